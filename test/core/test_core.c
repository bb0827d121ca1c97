/*
 * test_core.c
 *	  Standalone unit test of the order_system domain core (src/core): result
 *	  codes, money arithmetic, order lines, the order state machine, payment
 *	  strategies, virtual accounts, points and request fingerprints.
 *
 * The core is pure C, so it is compiled straight into this program: no
 * server, no libpq.  Output is TAP (prove runs it); the exit status is
 * non-zero when any test fails.  Expected values are written here from the
 * domain rules, never read back from the core's own tables.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os_core.h"

#define lengthof(a) ((int) (sizeof(a) / sizeof((a)[0])))
#define FORMAT(f, a) __attribute__((format(printf, f, a)))

/* ------------------------------------------------------------------ TAP */

static int	tap_count;
static int	tap_failed;

static void
FORMAT(1, 2)
diag(const char *fmt,...)
{
	va_list		ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static bool
tap_result(bool cond, const char *fmt, va_list ap)
{
	tap_count++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
	vprintf(fmt, ap);
	putchar('\n');
	if (!cond)
		tap_failed++;
	return cond;
}

static bool
FORMAT(2, 3)
ok(bool cond, const char *fmt,...)
{
	va_list		ap;
	bool		r;

	va_start(ap, fmt);
	r = tap_result(cond, fmt, ap);
	va_end(ap);
	return r;
}

static bool
FORMAT(3, 4)
is_i64(int64_t got, int64_t want, const char *fmt,...)
{
	va_list		ap;
	bool		r;

	va_start(ap, fmt);
	r = tap_result(got == want, fmt, ap);
	va_end(ap);
	if (!r)
		diag("got %" PRId64 ", expected %" PRId64, got, want);
	return r;
}

static const char *
rname(os_result r)
{
	return os_result_lookup(r)->name;
}

/* An operation's result code, and its value when the code is OS_OK. */
static bool
FORMAT(5, 6)
is_op(os_result got, int64_t got_val, os_result want, int64_t want_val,
	  const char *fmt,...)
{
	va_list		ap;
	bool		r = got == want && (want != OS_OK || got_val == want_val);

	va_start(ap, fmt);
	r = tap_result(r, fmt, ap);
	va_end(ap);
	if (!r)
		diag("got %s %" PRId64 ", expected %s %" PRId64,
			 rname(got), got_val, rname(want), want_val);
	return r;
}

/* Run fn in a child: true when it returns and the child exits cleanly, so
 * a crash or a sanitizer report fails the test instead of the program. */
static bool
runs_cleanly(void (*fn) (void))
{
	pid_t		pid;
	int			status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0)
	{
		fn();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* -------------------------------------------------------------- results */

/* The documented error table: names and SQLSTATEs clients depend on. */
static const struct
{
	os_result	code;
	const char *name;
	const char *sqlstate;
}			expected_results[] = {
	{OS_OK, "ok", "00000"},
	{OS_NOOP, "noop", "00000"},
	{OS_ERR_MEMBER_NOT_FOUND, "member_not_found", "OS001"},
	{OS_ERR_MEMBER_INACTIVE, "member_inactive", "OS002"},
	{OS_ERR_PRODUCT_NOT_FOUND, "product_not_found", "OS003"},
	{OS_ERR_PRODUCT_INACTIVE, "product_inactive", "OS004"},
	{OS_ERR_OUT_OF_STOCK, "out_of_stock", "OS005"},
	{OS_ERR_INSUFFICIENT_POINTS, "insufficient_points", "OS006"},
	{OS_ERR_ILLEGAL_TRANSITION, "illegal_transition", "OS007"},
	{OS_ERR_UNKNOWN_PAYMENT_METHOD, "unknown_payment_method", "OS008"},
	{OS_ERR_IDEMPOTENCY_CONFLICT, "idempotency_conflict", "OS009"},
	{OS_ERR_ORDER_NOT_FOUND, "order_not_found", "OS010"},
	{OS_ERR_CURRENCY_MISMATCH, "currency_mismatch", "OS011"},
	{OS_ERR_PAYMENT_MISMATCH, "payment_mismatch", "OS012"},
	{OS_ERR_BAD_PAYMENT_PLAN, "bad_payment_plan", "OS013"},
	{OS_ERR_PAYMENT_NOT_FOUND, "payment_not_found", "OS014"},
	{OS_ERR_CONSUMER_NOT_FOUND, "consumer_not_found", "OS015"},
	{OS_ERR_BATCH_NOT_FOUND, "batch_not_found", "OS016"},
	{OS_ERR_RATE_LIMITED, "rate_limited", "OS017"},
	{OS_ERR_POSITIONS_UNRESTORED, "positions_unrestored", "OS018"},
	{OS_ERR_OVERFLOW, "numeric_value_out_of_range", "22003"},
	{OS_ERR_INVALID_PARAMETER, "invalid_parameter_value", "22023"},
	{OS_ERR_NULL_VALUE, "null_value_not_allowed", "22004"},
};

static bool
valid_sqlstate(const char *s)
{
	if (s == NULL || strlen(s) != 5)
		return false;
	for (int i = 0; i < 5; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

static bool
snake_case(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
			return false;
	return true;
}

static void
test_results(void)
{
	bool		unique_names = true;
	bool		unique_os = true;

	for (int c = 0; c < OS_RESULT_COUNT; c++)
	{
		const os_result_info *info = os_result_lookup((os_result) c);

		ok(info != NULL && info->code == (os_result) c &&
		   valid_sqlstate(info->sqlstate) && snake_case(info->name) &&
		   info->message != NULL && info->message[0] != '\0',
		   "result %d has its own row: 5-char SQLSTATE, snake_case name, message", c);
	}
	for (int a = 0; a < OS_RESULT_COUNT; a++)
		for (int b = a + 1; b < OS_RESULT_COUNT; b++)
		{
			const os_result_info *x = os_result_lookup((os_result) a);
			const os_result_info *y = os_result_lookup((os_result) b);

			if (strcmp(x->name, y->name) == 0)
			{
				diag("codes %d and %d share the name %s", a, b, x->name);
				unique_names = false;
			}
			if (strncmp(x->sqlstate, "OS", 2) == 0 &&
				strcmp(x->sqlstate, y->sqlstate) == 0)
			{
				diag("codes %d and %d share SQLSTATE %s", a, b, x->sqlstate);
				unique_os = false;
			}
		}
	ok(unique_names, "result names are unique");
	ok(unique_os, "class OS SQLSTATEs are unique");

	is_i64(lengthof(expected_results), OS_RESULT_COUNT,
		   "the documented error table covers every result code");
	for (int i = 0; i < lengthof(expected_results); i++)
	{
		const os_result_info *info = os_result_lookup(expected_results[i].code);

		ok(strcmp(info->name, expected_results[i].name) == 0 &&
		   strcmp(info->sqlstate, expected_results[i].sqlstate) == 0,
		   "%s maps to SQLSTATE %s", expected_results[i].name,
		   expected_results[i].sqlstate);
	}

	/* an unknown code must still map to a real error, never to success */
	{
		const os_result c[] = {(os_result) -1, OS_RESULT_COUNT, (os_result) 1000};

		for (int i = 0; i < lengthof(c); i++)
		{
			const os_result_info *info = os_result_lookup(c[i]);

			ok(info != NULL && valid_sqlstate(info->sqlstate) &&
			   strcmp(info->sqlstate, "00000") != 0,
			   "unknown result code %d maps to an error SQLSTATE", (int) c[i]);
		}
	}
}

/* ---------------------------------------------------------------- money */

typedef struct
{
	int64_t		a;
	int64_t		b;
	os_result	want;
	int64_t		value;
} money_case;

static void
test_money(void)
{
	const int64_t max = INT64_MAX;
	const int64_t min = INT64_MIN;
	const money_case add[] = {
		{1, 2, OS_OK, 3},
		{max, 0, OS_OK, max},
		{max - 5, 5, OS_OK, max},
		{max, 1, OS_ERR_OVERFLOW, 0},
		{max, max, OS_ERR_OVERFLOW, 0},
		{min, 0, OS_OK, min},
		{min, -1, OS_ERR_OVERFLOW, 0},
		{min, min, OS_ERR_OVERFLOW, 0},
		{max, min, OS_OK, -1},
	};
	const money_case sub[] = {
		{5, 7, OS_OK, -2},
		{max, max, OS_OK, 0},
		{min, min, OS_OK, 0},
		{0, max, OS_OK, min + 1},
		{-1, min, OS_OK, max},
		{min, 1, OS_ERR_OVERFLOW, 0},
		{max, -1, OS_ERR_OVERFLOW, 0},
		{0, min, OS_ERR_OVERFLOW, 0},
		{max, min, OS_ERR_OVERFLOW, 0},
	};
	const money_case mul[] = {
		{0, max, OS_OK, 0},
		{max, 1, OS_OK, max},
		{min, 1, OS_OK, min},
		{-1, max, OS_OK, min + 1},
		{INT64_C(1000000000), INT64_C(1000000000), OS_OK, INT64_C(1000000000000000000)},
		{INT64_C(3037000499), INT64_C(3037000499), OS_OK, INT64_C(9223372030926249001)},
		{max / 7, 7, OS_OK, max - max % 7},
		{INT64_C(4611686018427387904), -2, OS_OK, min},
		{INT64_C(4611686018427387904), 2, OS_ERR_OVERFLOW, 0},
		{INT64_C(3037000500), INT64_C(3037000500), OS_ERR_OVERFLOW, 0},
		{max, 2, OS_ERR_OVERFLOW, 0},
		{min, -1, OS_ERR_OVERFLOW, 0},
		{max, max, OS_ERR_OVERFLOW, 0},
	};

	/* floor(max * 9999 / 10000) without 128-bit arithmetic */
	const int64_t max_9999 = (max / 10000) * 9999 + (max % 10000) * 9999 / 10000;
	const money_case rate[] = {
		{10000, 100, OS_OK, 100},
		{12345, 250, OS_OK, 308},
		{99, 100, OS_OK, 0},
		{1, 10000, OS_OK, 1},
		{0, 5000, OS_OK, 0},
		{5, 0, OS_OK, 0},
		{1000, INT32_MAX, OS_OK, 214748364},
		{max, 10000, OS_OK, max},
		{max, 9999, OS_OK, max_9999},
		{max / 2, 20000, OS_OK, max - 1},
		{max / 2 + 1, 20000, OS_ERR_OVERFLOW, 0},
		{max, 10001, OS_ERR_OVERFLOW, 0},
		{max, INT32_MAX, OS_ERR_OVERFLOW, 0},
		{-1, 100, OS_ERR_INVALID_PARAMETER, 0},
		{min, 100, OS_ERR_INVALID_PARAMETER, 0},
		{100, -1, OS_ERR_INVALID_PARAMETER, 0},
		{100, INT32_MIN, OS_ERR_INVALID_PARAMETER, 0},
	};
	os_money	out;
	os_result	r;

	for (int i = 0; i < lengthof(add); i++)
	{
		out = 0;
		r = os_money_add(add[i].a, add[i].b, &out);
		is_op(r, out, add[i].want, add[i].value,
			  "money_add(%" PRId64 ", %" PRId64 ")", add[i].a, add[i].b);
	}
	for (int i = 0; i < lengthof(sub); i++)
	{
		out = 0;
		r = os_money_sub(sub[i].a, sub[i].b, &out);
		is_op(r, out, sub[i].want, sub[i].value,
			  "money_sub(%" PRId64 ", %" PRId64 ")", sub[i].a, sub[i].b);
	}
	for (int i = 0; i < lengthof(mul); i++)
	{
		out = 0;
		r = os_money_mul(mul[i].a, mul[i].b, &out);
		is_op(r, out, mul[i].want, mul[i].value,
			  "money_mul(%" PRId64 ", %" PRId64 ")", mul[i].a, mul[i].b);
	}
	for (int i = 0; i < lengthof(rate); i++)
	{
		out = 0;
		r = os_money_rate_bp(rate[i].a, (int32_t) rate[i].b, &out);
		is_op(r, out, rate[i].want, rate[i].value,
			  "money_rate_bp(%" PRId64 ", %" PRId64 " bp)", rate[i].a, rate[i].b);
	}
}

static void
test_points(void)
{
	const money_case c[] = {
		{10000, 100, OS_OK, 100},	/* the default rate: 1% */
		{12345, 100, OS_OK, 123},	/* rounded down */
		{99, 100, OS_OK, 0},
		{0, 100, OS_OK, 0},
		{5000, 0, OS_OK, 0},
		{INT64_MAX, 10000, OS_OK, INT64_MAX},
		{INT64_MAX, 10001, OS_ERR_OVERFLOW, 0},
		{-1, 100, OS_ERR_INVALID_PARAMETER, 0},
		{100, -1, OS_ERR_INVALID_PARAMETER, 0},
	};

	for (int i = 0; i < lengthof(c); i++)
	{
		os_money	out = 0;
		os_result	r = os_points_earned(c[i].a, (int32_t) c[i].b, &out);

		is_op(r, out, c[i].want, c[i].value,
			  "points_earned(%" PRId64 " paid, %" PRId64 " bp)", c[i].a, c[i].b);
	}
}

/* ----------------------------------------------------------- rate limit */

static void
test_rate(void)
{
	const struct
	{
		double		left;
		int32_t		per_minute;
		bool		allowed;
		double		retry;
	}			c[] = {
		{0.0, 60, true, 0.0},	/* took the last token */
		{4.5, 60, true, 0.0},
		{-0.5, 60, false, 0.5}, /* half a token short at one a second */
		{-1.0, 6, false, 10.0}, /* a whole token at one per ten seconds */
		{-0.25, 1, false, 15.0},
		{-1.0, 0, false, 0.0},	/* no refill: no promise */
	};

	for (int i = 0; i < lengthof(c); i++)
	{
		double		retry = os_rate_retry_after(c[i].left, c[i].per_minute);

		ok(os_rate_allows(c[i].left) == c[i].allowed && fabs(retry - c[i].retry) < 1e-9,
		   "rate: %g tokens left at %d/min: %s, retry after %g s (got %g)", c[i].left,
		   c[i].per_minute, c[i].allowed ? "allowed" : "refused", c[i].retry, retry);
	}
}

/* The refill: full when never used, capped at the burst, never backwards. */
static void
test_rate_take(void)
{
	const struct
	{
		double		tokens;
		bool		never_used;
		double		elapsed_s;
		double		burst;
		double		per_s;
		double		left;
	}			c[] = {
		{0.0, true, 0.0, 30.0, 1.0, 29.0},	/* a new bucket starts full */
		{5.0, false, 0.0, 30.0, 1.0, 4.0},	/* no time passed: one taken */
		{5.0, false, 2.5, 30.0, 1.0, 6.5},	/* 2.5 s at one a second */
		{29.5, false, 100.0, 30.0, 1.0, 29.0},	/* capped at the burst */
		{0.0, false, 0.5, 30.0, 1.0, -0.5}, /* half a token short */
		{-0.5, false, -10.0, 30.0, 1.0, -1.5},	/* a clock behind refills
												 * nothing */
		{2.0, false, 60.0, 30.0, 0.0, 1.0}, /* no refill rate */
	};

	for (int i = 0; i < lengthof(c); i++)
	{
		double		left = os_rate_take(c[i].tokens, c[i].never_used, c[i].elapsed_s,
										c[i].burst, c[i].per_s);

		ok(fabs(left - c[i].left) < 1e-9,
		   "rate_take: %g tokens%s, %g s later, burst %g, %g/s: %g left (got %g)",
		   c[i].tokens, c[i].never_used ? " (never used)" : "", c[i].elapsed_s,
		   c[i].burst, c[i].per_s, c[i].left, left);
	}
}

/* ----------------------------------------------------------------- stock */

static void
test_stock_reserve(void)
{
	const struct
	{
		os_stock	before;
		int64_t		quantity;
		os_result	want;
		int64_t		available;
		int64_t		reserved;
	}			c[] = {
		{{true, 0, 5, 0}, 3, OS_OK, 2, 3},
		{{true, 0, 5, 2}, 5, OS_OK, 0, 7},	/* the last units */
		{{true, 0, 5, 0}, 6, OS_NOOP, 5, 0},	/* short: untouched */
		{{false, 0, 5, 0}, 1, OS_NOOP, 5, 0},	/* inactive */
		{{true, 4, 5, 0}, 1, OS_NOOP, 5, 0},	/* on flash sale: buckets */
		{{true, 0, 5, INT64_MAX}, 1, OS_ERR_OVERFLOW, 5, INT64_MAX},
	};

	for (int i = 0; i < lengthof(c); i++)
	{
		os_stock	s = c[i].before;
		os_result	r = os_stock_reserve(&s, c[i].quantity);

		ok(r == c[i].want && s.available == c[i].available && s.reserved == c[i].reserved,
		   "stock_reserve(%" PRId64 " of %" PRId64 " available, active %d, buckets %d): "
		   "%d -> %" PRId64 "/%" PRId64 " (got %d -> %" PRId64 "/%" PRId64 ")",
		   c[i].quantity, c[i].before.available, c[i].before.active,
		   c[i].before.flash_buckets, c[i].want, c[i].available, c[i].reserved,
		   r, s.available, s.reserved);
	}
}

/* ------------------------------------------------------------ row rules */

static void
test_rules(void)
{
	const os_money stock[] = {5, 3, 2, 0};
	const os_money huge[] = {INT64_MAX, 1};
	const struct
	{
		const char *kind;
		int64_t		delta;
		bool		ok;
	}			l[] = {
		{"spend", -1, true}, {"spend", 0, false}, {"spend", 1, false},
		{"adjust", -1, true}, {"adjust", 0, false}, {"adjust", 1, true},
		{"earn", 1, true}, {"earn", 0, false}, {"earn", -1, false},
		{"refund", 1, true}, {"refund", -1, false},
		{"spendx", -1, false},	/* only the exact word is a spend */
	};
	bool		equal = false;

	ok(os_parts_add_up(stock, 4, 10, &equal) == OS_OK && equal, "rules: 5 + 3 + 2 + 0 = 10");
	ok(os_parts_add_up(stock, 4, 11, &equal) == OS_OK && !equal, "rules: 5 + 3 + 2 + 0 <> 11");
	ok(os_parts_add_up(stock, 0, 0, &equal) == OS_OK && equal, "rules: no parts add up to 0");
	ok(os_parts_add_up(huge, 2, 0, &equal) == OS_ERR_OVERFLOW, "rules: a sum past INT64_MAX overflows");
	for (int i = 0; i < lengthof(l); i++)
		ok(os_ledger_delta_ok(l[i].kind, strlen(l[i].kind), l[i].delta) == l[i].ok,
		   "rules: %s %lld is %s", l[i].kind, (long long) l[i].delta, l[i].ok ? "allowed" : "refused");
}

/* ---------------------------------------------------------------- lines */

#define MAX_QTY INT64_C(1000000000)
#define MAX_LINES 1000

static void
test_quantity(void)
{
	const int64_t good[] = {1, 2, MAX_QTY - 1, MAX_QTY};
	const int64_t bad[] = {0, -1, INT64_MIN, MAX_QTY + 1, INT64_MAX};

	for (int i = 0; i < lengthof(good); i++)
		is_op(os_check_quantity(good[i]), 0, OS_OK, 0,
			  "quantity %" PRId64 " accepted", good[i]);
	for (int i = 0; i < lengthof(bad); i++)
		is_op(os_check_quantity(bad[i]), 0, OS_ERR_INVALID_PARAMETER, 0,
			  "quantity %" PRId64 " rejected", bad[i]);
}

/* Do lines[0..n) hold exactly want[0..nwant)? */
static bool
lines_equal(const os_line *lines, int n, const os_line *want, int nwant)
{
	if (n != nwant)
	{
		diag("%d lines, expected %d", n, nwant);
		return false;
	}
	for (int i = 0; i < n; i++)
		if (lines[i].product_id != want[i].product_id ||
			lines[i].quantity != want[i].quantity ||
			lines[i].unit_price != want[i].unit_price)
		{
			diag("line %d is (%" PRId64 ", %" PRId64 ", %" PRId64 ")", i,
				 lines[i].product_id, lines[i].quantity, lines[i].unit_price);
			return false;
		}
	return true;
}

static void
normalize_rejects(os_line *lines, int n, const char *what)
{
	int			m = n;

	is_op(os_lines_normalize(lines, &m), 0, OS_ERR_INVALID_PARAMETER, 0,
		  "lines_normalize rejects %s", what);
}

static void
test_normalize(void)
{
	static os_line many[MAX_LINES + 1];
	int			n;

	{
		os_line		l[] = {{5, 1, 50}, {2, 3, 20}, {9, 2, 90}};
		const os_line want[] = {{2, 3, 20}, {5, 1, 50}, {9, 2, 90}};

		n = lengthof(l);
		ok(os_lines_normalize(l, &n) == OS_OK && lines_equal(l, n, want, 3),
		   "lines_normalize sorts by product id, keeping each line's fields");
	}
	{
		os_line		l[] = {{3, 1, 30}, {1, 2, 10}, {3, 4, 30}, {1, 5, 10}, {3, 1, 30}};
		const os_line want[] = {{1, 7, 10}, {3, 6, 30}};

		n = lengthof(l);
		ok(os_lines_normalize(l, &n) == OS_OK && lines_equal(l, n, want, 2),
		   "lines_normalize merges repeated products and adds their quantities");
	}
	{
		os_line		l[] = {{INT64_MAX, 1, 0}, {1, 1, 0}, {INT64_MAX - 1, 1, 0}};
		const os_line want[] = {{1, 1, 0}, {INT64_MAX - 1, 1, 0}, {INT64_MAX, 1, 0}};

		n = lengthof(l);
		ok(os_lines_normalize(l, &n) == OS_OK && lines_equal(l, n, want, 3),
		   "lines_normalize orders product ids up to INT64_MAX");
	}
	{
		os_line		l[] = {{4, 500000000, 0}, {4, 500000000, 0}};
		const os_line want[] = {{4, MAX_QTY, 0}};

		n = lengthof(l);
		ok(os_lines_normalize(l, &n) == OS_OK && lines_equal(l, n, want, 1),
		   "lines_normalize accepts a merged quantity of exactly 1000000000");
	}
	{
		os_line		l[] = {{4, 500000000, 0}, {4, 500000001, 0}};

		normalize_rejects(l, 2, "a merged quantity over 1000000000");
	}
	{
		os_line		l[] = {{1, 1, 0}};

		n = 0;
		is_op(os_lines_normalize(l, &n), 0, OS_ERR_INVALID_PARAMETER, 0,
			  "lines_normalize rejects an empty order");
		n = -1;
		is_op(os_lines_normalize(l, &n), 0, OS_ERR_INVALID_PARAMETER, 0,
			  "lines_normalize rejects a negative line count");
	}
	{
		os_line		l0[] = {{1, 1, 0}, {0, 1, 0}};
		os_line		l1[] = {{1, 1, 0}, {-3, 1, 0}};
		os_line		l2[] = {{1, 1, 0}, {2, 0, 0}};
		os_line		l3[] = {{1, 1, 0}, {2, -1, 0}};
		os_line		l4[] = {{2, MAX_QTY + 1, 0}, {1, 1, 0}};

		normalize_rejects(l0, 2, "product id 0");
		normalize_rejects(l1, 2, "a negative product id");
		normalize_rejects(l2, 2, "quantity 0");
		normalize_rejects(l3, 2, "a negative quantity");
		normalize_rejects(l4, 2, "a line quantity over 1000000000");
	}

	/* pg_bsd_indent misplaces compound literals: keep these lines as they are */
	/* INDENT OFF */
	/* line count limits: 1000 distinct lines pass, 1001 do not */
	for (int i = 0; i < MAX_LINES; i++)
		many[i] = (os_line) {MAX_LINES - i, 1, 0};
	n = MAX_LINES;
	{
		bool		sorted = os_lines_normalize(many, &n) == OS_OK && n == MAX_LINES;

		for (int i = 0; sorted && i < n; i++)
			sorted = many[i].product_id == i + 1;
		ok(sorted, "lines_normalize accepts and sorts 1000 distinct lines");
	}
	for (int i = 0; i <= MAX_LINES; i++)
		many[i] = (os_line) {i + 1, 1, 0};
	normalize_rejects(many, MAX_LINES + 1, "1001 lines");

	/* 1000 lines of one product merge into one line, within the limit */
	for (int i = 0; i < MAX_LINES; i++)
		many[i] = (os_line) {7, MAX_QTY / MAX_LINES, 0};
	n = MAX_LINES;
	ok(os_lines_normalize(many, &n) == OS_OK && n == 1 &&
	   many[0].product_id == 7 && many[0].quantity == MAX_QTY,
	   "lines_normalize merges 1000 lines of one product into one");
	for (int i = 0; i < MAX_LINES; i++)
		many[i] = (os_line) {7, MAX_QTY, 0};
	/* INDENT ON */
	normalize_rejects(many, MAX_LINES, "1000 maximal lines of one product");
}

static void
test_total(void)
{
	const struct
	{
		os_line		l[2];
		int			n;
		os_result	want;
		int64_t		total;
		const char *what;
	}			c[] = {
		{{{0}}, 0, OS_OK, 0, "no lines"},
		{{{1, 2, 150}, {2, 3, 1000}}, 2, OS_OK, 3300, "2 x 150 + 3 x 1000"},
		{{{1, 5, 0}}, 1, OS_OK, 0, "a free product"},
		{{{1, 1, INT64_MAX}}, 1, OS_OK, INT64_MAX, "one line at INT64_MAX"},
		{{{1, MAX_QTY, INT64_C(9223372036)}}, 1, OS_OK,
		INT64_C(9223372036000000000), "1000000000 x 9223372036"},
		{{{1, MAX_QTY, INT64_C(9223372037)}}, 1, OS_ERR_OVERFLOW, 0,
		"1000000000 x 9223372037 (line overflows)"},
		{{{1, 2, INT64_MAX}}, 1, OS_ERR_OVERFLOW, 0, "2 x INT64_MAX"},
		{{{1, 1, INT64_MAX}, {2, 1, 1}}, 2, OS_ERR_OVERFLOW, 0,
		"INT64_MAX + 1 (sum overflows)"},
		{{{1, 1, 10}, {2, 1, -1}}, 2, OS_ERR_INVALID_PARAMETER, 0, "a negative price"},
	};

	for (int i = 0; i < lengthof(c); i++)
	{
		os_money	total = -1;
		os_result	r = os_lines_total(c[i].l, c[i].n, &total);

		is_op(r, total, c[i].want, c[i].total,
			  "lines_total: %s", c[i].what);
	}
}

/* -------------------------------------------------------- state machine */

#define ILLEGAL (-1)
#define NOOP (-2)

/*
 * The order life cycle: pending_payment -> paid (capture) -> completed;
 * pending_payment -> cancelled (decline, cancel) or expired; paid ->
 * refunded.  Repeating the step that led to a state is a no-op; any other
 * event is illegal.
 */
static const int expected_transitions[OS_STATE_COUNT][OS_EVENT_COUNT] = {
	/* capture, decline, cancel, expire, complete, refund */
	[OS_STATE_PENDING_PAYMENT] = {OS_STATE_PAID, OS_STATE_CANCELLED, OS_STATE_CANCELLED,
	OS_STATE_EXPIRED, ILLEGAL, ILLEGAL},
	[OS_STATE_PAID] = {NOOP, ILLEGAL, ILLEGAL, ILLEGAL, OS_STATE_COMPLETED, OS_STATE_REFUNDED},
	[OS_STATE_COMPLETED] = {ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, NOOP, ILLEGAL},
	[OS_STATE_CANCELLED] = {ILLEGAL, NOOP, NOOP, ILLEGAL, ILLEGAL, ILLEGAL},
	[OS_STATE_EXPIRED] = {ILLEGAL, ILLEGAL, ILLEGAL, NOOP, ILLEGAL, ILLEGAL},
	[OS_STATE_REFUNDED] = {ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, NOOP},
};

static const char *const expected_state_names[OS_STATE_COUNT] = {
	"pending_payment", "paid", "completed", "cancelled", "expired", "refunded"
};

static const char *const expected_event_names[OS_EVENT_COUNT] = {
	"capture", "decline", "cancel", "expire", "complete", "refund"
};

static void
test_transitions(void)
{
	for (int s = 0; s < OS_STATE_COUNT; s++)
		for (int e = 0; e < OS_EVENT_COUNT; e++)
		{
			int			want = expected_transitions[s][e];
			os_state	to = OS_STATE_COUNT;
			os_result	r = os_transition((os_state) s, (os_event) e, &to);
			bool		good;

			if (want == ILLEGAL)
				good = r == OS_ERR_ILLEGAL_TRANSITION;
			else if (want == NOOP)
				good = r == OS_NOOP && to == (os_state) s;
			else
				good = r == OS_OK && to == (os_state) want;
			if (!ok(good, "%s + %s -> %s", expected_state_names[s], expected_event_names[e],
					want == ILLEGAL ? "illegal" : want == NOOP ? "no-op" :
					expected_state_names[want]))
				diag("got %s, state %d", rname(r), (int) to);
		}

	{
		os_state	to;

		is_op(os_transition(OS_STATE_COUNT, OS_EVENT_CAPTURE, &to), 0,
			  OS_ERR_ILLEGAL_TRANSITION, 0, "transition from an unknown state is illegal");
		is_op(os_transition((os_state) -1, OS_EVENT_CAPTURE, &to), 0,
			  OS_ERR_ILLEGAL_TRANSITION, 0, "transition from state -1 is illegal");
		is_op(os_transition(OS_STATE_PENDING_PAYMENT, OS_EVENT_COUNT, &to), 0,
			  OS_ERR_ILLEGAL_TRANSITION, 0, "an unknown event is illegal");
		is_op(os_transition(OS_STATE_PAID, (os_event) -1, &to), 0,
			  OS_ERR_ILLEGAL_TRANSITION, 0, "event -1 is illegal");
	}
}

static void
test_edges_and_finals(void)
{
	for (int from = 0; from < OS_STATE_COUNT; from++)
	{
		bool		final = true;

		for (int to = 0; to < OS_STATE_COUNT; to++)
		{
			bool		want = false;

			for (int e = 0; e < OS_EVENT_COUNT; e++)
				if (expected_transitions[from][e] == to)
					want = true;
			ok(os_transition_edge_exists((os_state) from, (os_state) to) == want,
			   "edge %s -> %s %s", expected_state_names[from],
			   expected_state_names[to], want ? "exists" : "does not exist");
		}
		for (int e = 0; e < OS_EVENT_COUNT; e++)
			if (expected_transitions[from][e] >= 0)
				final = false;
		ok(os_state_is_final((os_state) from) == final, "%s is %s",
		   expected_state_names[from], final ? "final" : "not final");
	}
	ok(!os_transition_edge_exists(OS_STATE_COUNT, OS_STATE_PAID) &&
	   !os_transition_edge_exists((os_state) -1, OS_STATE_PAID),
	   "no edge leaves an unknown state");
	ok(!os_transition_edge_exists(OS_STATE_PENDING_PAYMENT, OS_STATE_COUNT) &&
	   !os_transition_edge_exists(OS_STATE_PENDING_PAYMENT, (os_state) -1),
	   "no edge leads to an unknown state");
}

/* The events leaving each state are exactly its moves, in event order. */
static void
test_allowed_events(void)
{
	for (int s = 0; s < OS_STATE_COUNT; s++)
	{
		os_event	got[OS_EVENT_COUNT];
		int			n = os_allowed_events((os_state) s, got);
		int			k = 0;
		bool		same = true;

		for (int e = 0; e < OS_EVENT_COUNT; e++)
			if (expected_transitions[s][e] >= 0)
				same = same && k < n && got[k++] == (os_event) e;
		ok(same && k == n, "%s allows exactly its %d moves", expected_state_names[s], k);
	}
	{
		os_event	got[OS_EVENT_COUNT];

		ok(os_allowed_events(OS_STATE_COUNT, got) == 0 &&
		   os_allowed_events((os_state) -1, got) == 0, "an unknown state allows nothing");
	}
	ok(os_transition_hint(OS_STATE_PAID, OS_EVENT_CANCEL) != NULL &&
	   strstr(os_transition_hint(OS_STATE_PAID, OS_EVENT_CANCEL), "refund_order") != NULL,
	   "cancelling a paid order hints at refund_order");
	ok(os_transition_hint(OS_STATE_PENDING_PAYMENT, OS_EVENT_REFUND) != NULL &&
	   strstr(os_transition_hint(OS_STATE_PENDING_PAYMENT, OS_EVENT_REFUND), "cancel_order") != NULL,
	   "refunding an unpaid order hints at cancel_order");
	ok(os_transition_hint(OS_STATE_REFUNDED, OS_EVENT_CANCEL) == NULL &&
	   os_transition_hint(OS_STATE_COMPLETED, OS_EVENT_REFUND) == NULL,
	   "a final order has no hint");
}

static void
final_unknown_state(void)
{
	/* NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): calls matter */
	volatile bool sink = os_state_is_final(OS_STATE_COUNT);

	sink = os_state_is_final((os_state) -1);
	(void) sink;
}

static void
test_names(void)
{
	const char *const bad_states[] = {
		"", "PAID", "paid ", " paid", "pend", "pending", "capture", "refund", "unknown"
	};
	const char *const bad_events[] = {
		"", "CAPTURE", "captured", "capture ", "paid", "refunded", "pay"
	};

	for (int s = 0; s < OS_STATE_COUNT; s++)
	{
		const char *name = os_state_name((os_state) s);
		os_state	back = OS_STATE_COUNT;

		ok(name != NULL && strcmp(name, expected_state_names[s]) == 0 &&
		   os_state_parse(name, &back) && back == (os_state) s,
		   "state %s prints and parses back", expected_state_names[s]);
	}
	for (int e = 0; e < OS_EVENT_COUNT; e++)
	{
		const char *name = os_event_name((os_event) e);
		os_event	back = OS_EVENT_COUNT;

		ok(name != NULL && strcmp(name, expected_event_names[e]) == 0 &&
		   os_event_parse(name, &back) && back == (os_event) e,
		   "event %s prints and parses back", expected_event_names[e]);
	}
	for (int i = 0; i < lengthof(bad_states); i++)
	{
		os_state	s;

		ok(!os_state_parse(bad_states[i], &s), "'%s' is not a state", bad_states[i]);
	}
	for (int i = 0; i < lengthof(bad_events); i++)
	{
		os_event	e;

		ok(!os_event_parse(bad_events[i], &e), "'%s' is not an event", bad_events[i]);
	}
	{
		os_state	s;
		os_event	e;

		ok(!os_state_parse(NULL, &s) && !os_event_parse(NULL, &e),
		   "NULL parses as neither state nor event");
	}
	ok(os_state_name(OS_STATE_COUNT) == NULL && os_state_name((os_state) -1) == NULL,
	   "unknown states have no name");
	ok(os_event_name(OS_EVENT_COUNT) == NULL && os_event_name((os_event) -1) == NULL,
	   "unknown events have no name");
	ok(runs_cleanly(final_unknown_state),
	   "os_state_is_final on an unknown state stays inside its table");
}

/* ------------------------------------------------------------- payments */

static const struct
{
	const char *name;
	const char *handler;
}			expected_strategies[] = {
	{"points", "pay_points"},
	{"card", "pay_card"},
	{"bank_transfer", "pay_bank_transfer"},
	{"points_card", "pay_points_card"},
};

static void
test_strategy_table(void)
{
	is_i64(os_builtin_strategy_count, lengthof(expected_strategies),
		   "four built-in payment strategies");
	for (int i = 0; i < lengthof(expected_strategies); i++)
	{
		const os_payment_strategy *s = os_strategy_by_handler(expected_strategies[i].handler);

		ok(s != NULL && strcmp(s->name, expected_strategies[i].name) == 0 &&
		   strcmp(s->handler, expected_strategies[i].handler) == 0 &&
		   s->plan != NULL && s->description != NULL && s->description[0] != '\0',
		   "handler %s is the built-in %s strategy", expected_strategies[i].handler,
		   expected_strategies[i].name);
	}
	ok(os_strategy_by_handler("pay_cash") == NULL, "unknown handler pay_cash has no strategy");
	ok(os_strategy_by_handler("points") == NULL,
	   "a method name is not a handler name");
	ok(os_strategy_by_handler(NULL) == NULL, "NULL handler has no strategy");
}

static os_payment_request
request(os_money amount, os_money points)
{
	os_payment_request r = {
		.order_id = 42,
		.member_id = 7,
		.amount = amount,
		.points_requested = points,
		.card_timeout_s = 900,
		.bank_transfer_ttl_s = 86400,
	};

	return r;
}

/* Plan with a built-in strategy the way the extension does: zeroed plan. */
static os_result
plan_with(const char *handler, const os_payment_request *req, os_payment_plan *plan)
{
	const os_payment_strategy *s = os_strategy_by_handler(handler);

	memset(plan, 0, sizeof(*plan));
	return s ? s->plan(req, plan) : OS_ERR_UNKNOWN_PAYMENT_METHOD;
}

static bool
plan_is(const os_payment_plan *p, os_money points, os_money external,
		int64_t expires, const char *reference)
{
	bool		r = p->points_amount == points && p->external_amount == external &&
	p->expires_in_s == expires && strcmp(p->reference, reference) == 0;

	if (!r)
		diag("plan is points %" PRId64 ", external %" PRId64 ", expires %" PRId64
			 ", reference '%s'", p->points_amount, p->external_amount,
			 p->expires_in_s, p->reference);
	return r;
}

static void
test_strategies(void)
{
	os_payment_request req = request(12000, -1);
	os_payment_plan plan;

	ok(plan_with("pay_points", &req, &plan) == OS_OK && plan_is(&plan, 12000, 0, 0, "") &&
	   os_payment_plan_check(&plan, 12000) == OS_OK,
	   "points: the whole amount from points, at once");
	ok(plan_with("pay_card", &req, &plan) == OS_OK && plan_is(&plan, 0, 12000, 900, "") &&
	   os_payment_plan_check(&plan, 12000) == OS_OK,
	   "card: the whole amount outside, pending for the card timeout");
	ok(plan_with("pay_bank_transfer", &req, &plan) == OS_OK &&
	   plan_is(&plan, 0, 12000, 86400, "VA0000000000000422") &&
	   os_payment_plan_check(&plan, 12000) == OS_OK,
	   "bank_transfer: pending for the transfer TTL, virtual account of order 42");
	ok(os_virtual_account_valid(plan.reference), "bank_transfer reference is a valid virtual account");

	req = request(12000, 3000);
	ok(plan_with("pay_points_card", &req, &plan) == OS_OK && plan_is(&plan, 3000, 9000, 900, "") &&
	   os_payment_plan_check(&plan, 12000) == OS_OK,
	   "points_card: 3000 from points, 9000 by card");
	req = request(12000, 0);
	ok(plan_with("pay_points_card", &req, &plan) == OS_OK && plan_is(&plan, 0, 12000, 900, ""),
	   "points_card: 0 points, all by card");
	req = request(12000, 12000);
	ok(plan_with("pay_points_card", &req, &plan) == OS_OK && plan_is(&plan, 12000, 0, 900, ""),
	   "points_card: all from points");
	{
		const os_money bad[] = {-1, -5, 12001, INT64_MAX, INT64_MIN};

		for (int i = 0; i < lengthof(bad); i++)
		{
			req = request(12000, bad[i]);
			is_op(plan_with("pay_points_card", &req, &plan), 0, OS_ERR_INVALID_PARAMETER, 0,
				  "points_card rejects points %" PRId64 " of 12000", bad[i]);
		}
	}

	/* extremes of the amount still give a plan that checks */
	for (int i = 0; i < lengthof(expected_strategies); i++)
	{
		const os_money amounts[] = {0, INT64_MAX};

		for (int j = 0; j < lengthof(amounts); j++)
		{
			req = request(amounts[j], amounts[j] / 2);
			ok(plan_with(expected_strategies[i].handler, &req, &plan) == OS_OK &&
			   os_payment_plan_check(&plan, amounts[j]) == OS_OK,
			   "%s plans an amount of %" PRId64 " that checks",
			   expected_strategies[i].name, amounts[j]);
		}
	}
}

static void
check_plan(os_money points, os_money external, int64_t expires, os_money amount,
		   os_result want, const char *what)
{
	os_payment_plan p;

	memset(&p, 0, sizeof(p));
	p.points_amount = points;
	p.external_amount = external;
	p.expires_in_s = expires;
	is_op(os_payment_plan_check(&p, amount), 0, want, 0, "payment_plan_check: %s", what);
}

static void
test_plan_check(void)
{
	os_payment_plan p;

	check_plan(100, 0, 0, 100, OS_OK, "all points");
	check_plan(0, 100, 0, 100, OS_OK, "all external");
	check_plan(40, 60, 3600, 100, OS_OK, "a split with a deadline");
	check_plan(0, 0, 0, 0, OS_OK, "a zero amount");
	check_plan(INT64_MAX, 0, 0, INT64_MAX, OS_OK, "INT64_MAX from points");
	check_plan(-1, 101, 0, 100, OS_ERR_BAD_PAYMENT_PLAN, "negative points");
	check_plan(101, -1, 0, 100, OS_ERR_BAD_PAYMENT_PLAN, "negative external");
	check_plan(40, 60, -1, 100, OS_ERR_BAD_PAYMENT_PLAN, "negative expiry");
	check_plan(50, 49, 0, 100, OS_ERR_BAD_PAYMENT_PLAN, "parts short of the amount");
	check_plan(50, 51, 0, 100, OS_ERR_BAD_PAYMENT_PLAN, "parts over the amount");
	check_plan(INT64_MAX, 1, 0, INT64_MIN, OS_ERR_BAD_PAYMENT_PLAN,
			   "parts overflowing to the amount's wrapped value");
	check_plan(INT64_MAX, INT64_MAX, 0, -2, OS_ERR_BAD_PAYMENT_PLAN,
			   "two INT64_MAX parts");

	memset(&p, 0, sizeof(p));
	p.external_amount = 100;
	memset(p.reference, 'A', sizeof(p.reference) - 1);
	is_op(os_payment_plan_check(&p, 100), 0, OS_OK, 0,
		  "payment_plan_check: a reference filling its buffer");
	memset(p.reference, 'A', sizeof(p.reference));
	is_op(os_payment_plan_check(&p, 100), 0, OS_ERR_BAD_PAYMENT_PLAN, 0,
		  "payment_plan_check: a reference without its NUL");
}

/* ----------------------------------------------------- virtual accounts */

/* Standard Luhn check over a whole digit string, check digit included. */
static bool
luhn_ok(const char *digits)
{
	int			sum = 0;
	int			len = (int) strlen(digits);

	for (int i = 0; i < len; i++)
	{
		int			d = digits[len - 1 - i] - '0';

		if (i % 2 == 1)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
	}
	return sum % 10 == 0;
}

/* Is ref "VA", the order id in 15 digits, then a Luhn check digit? */
static bool
va_well_formed(const char *ref, int64_t order_id)
{
	char		id[16];

	snprintf(id, sizeof(id), "%015" PRId64, order_id);
	return strlen(ref) == 18 && strncmp(ref, "VA", 2) == 0 &&
		strncmp(ref + 2, id, 15) == 0 && luhn_ok(ref + 2);
}

static void
test_virtual_accounts(void)
{
	const int64_t large[] = {
		INT64_C(123456789012345), INT64_C(100000000000000), INT64_C(999999999999999)
	};
	char		ref[40];
	bool		all = true;

	os_virtual_account(42, ref, sizeof(ref));
	ok(strcmp(ref, "VA0000000000000422") == 0, "order 42 gets VA0000000000000422");
	os_virtual_account(INT64_C(7992739871), ref, sizeof(ref));
	ok(strcmp(ref, "VA0000079927398713") == 0,
	   "order 7992739871 gets check digit 3 (the textbook Luhn example)");

	for (int64_t id = 0; id <= 5000; id++)
	{
		os_virtual_account(id, ref, sizeof(ref));
		if (!va_well_formed(ref, id) || !os_virtual_account_valid(ref))
		{
			diag("order %" PRId64 ": %s", id, ref);
			all = false;
		}
	}
	for (int i = 0; i < lengthof(large); i++)
	{
		os_virtual_account(large[i], ref, sizeof(ref));
		if (!va_well_formed(ref, large[i]) || !os_virtual_account_valid(ref))
		{
			diag("order %" PRId64 ": %s", large[i], ref);
			all = false;
		}
	}
	ok(all, "references of orders 0..5000 and 15-digit ids are well formed and valid");

	/* every single-digit change is caught, at every position */
	os_virtual_account(INT64_C(7992739871), ref, sizeof(ref));
	for (int pos = 2; pos < 18; pos++)
	{
		char		bad[19];
		bool		caught = true;

		/* NOLINTNEXTLINE(bugprone-too-small-loop-variable): '9' bound */
		for (char d = '0'; d <= '9'; d++)
		{
			if (d == ref[pos])
				continue;
			memcpy(bad, ref, sizeof(bad));
			bad[pos] = d;
			if (os_virtual_account_valid(bad))
			{
				diag("%s accepted", bad);
				caught = false;
			}
		}
		ok(caught, "every other digit at position %d is rejected", pos);
	}
	all = true;
	for (int64_t id = 1; id <= 300; id++)
	{
		os_virtual_account(id * 7919, ref, sizeof(ref));
		for (int pos = 2; pos < 18; pos++)
			/* NOLINTNEXTLINE(bugprone-too-small-loop-variable): '9' bound */
			for (char d = '0'; d <= '9'; d++)
			{
				char		bad[19];

				memcpy(bad, ref, sizeof(bad));
				bad[pos] = d;
				if (d != ref[pos] && os_virtual_account_valid(bad))
				{
					diag("%s accepted", bad);
					all = false;
				}
			}
	}
	ok(all, "single-digit corruptions of 300 more references are all rejected");

	{
		const char *const bad[] = {
			"", "VA", "VA000007992739871", "VA00000799273987130", "VB0000079927398713",
			"va0000079927398713", "AV0000079927398713", "XA0000079927398713",
			"VA00000799273987a3", "VA0000079927398 13", "VA-000000000000428",
		};

		for (int i = 0; i < lengthof(bad); i++)
			ok(!os_virtual_account_valid(bad[i]), "'%s' is not a virtual account", bad[i]);
		ok(!os_virtual_account_valid(NULL), "NULL is not a virtual account");
	}

	memset(ref, 'x', sizeof(ref));
	ok(!os_virtual_account(42, ref, 10) && ref[0] == '\0' && ref[1] == 'x',
	   "a short buffer gets an empty reference, false, and no more");
	ok(!os_virtual_account(INT64_C(1000000000000000), ref, sizeof(ref)) && ref[0] == '\0',
	   "an order id over 15 digits has no virtual account");
	ok(!os_virtual_account(-1, ref, sizeof(ref)) && ref[0] == '\0',
	   "a negative order id has no virtual account");
	ok(os_virtual_account(INT64_C(999999999999999), ref, sizeof(ref)) &&
	   os_virtual_account_valid(ref), "the largest 15-digit order id has a valid one");
}

/* ---------------------------------------------------------- fingerprints */

static uint64_t
fp(int64_t member, const char *method, const os_line *l, int n, const char *params)
{
	return os_request_fingerprint(member, method, l, n, params);
}

static void
fingerprint_null_strings(void)
{
	const os_line l[] = {{1, 2, 0}};

	/* NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): calls matter */
	volatile uint64_t sink = fp(7, NULL, l, 1, "{}");

	sink = fp(7, "card", l, 1, NULL);
	(void) sink;
}

static void
test_fingerprint(void)
{
	const os_line base[] = {{1, 2, 150}, {5, 1, 990}};
	const char *params = "{\"points\": 100}";
	const uint64_t h = fp(7, "card", base, 2, params);
	os_line		l[3];

	/* published FNV-1a 64-bit test vectors */
	ok(os_fnv1a(OS_FNV_INIT, "", 0) == UINT64_C(0xcbf29ce484222325) &&
	   os_fnv1a(OS_FNV_INIT, "a", 1) == UINT64_C(0xaf63dc4c8601ec8c) &&
	   os_fnv1a(OS_FNV_INIT, "foobar", 6) == UINT64_C(0x85944171f73967e8),
	   "fnv1a matches the published FNV-1a 64 vectors");
	ok(os_fnv1a(os_fnv1a(OS_FNV_INIT, "foo", 3), "bar", 3) == UINT64_C(0x85944171f73967e8),
	   "fnv1a can be fed in pieces");

	memcpy(l, base, sizeof(base));
	ok(fp(7, "card", base, 2, params) == h && fp(7, "card", l, 2, "{\"points\": 100}") == h,
	   "the same request gives the same fingerprint (by content, not address)");
	l[0].unit_price = 1;
	l[1].unit_price = 123456;
	ok(fp(7, "card", l, 2, params) == h, "prices are not part of the request");

	ok(fp(8, "card", base, 2, params) != h, "another member changes the fingerprint");
	ok(fp(-7, "card", base, 2, params) != h, "member -7 differs from 7");
	ok(fp(7, "points", base, 2, params) != h, "another method changes it");
	ok(fp(7, "car", base, 2, params) != h && fp(7, "card ", base, 2, params) != h,
	   "a method one character shorter or longer changes it");
	memcpy(l, base, sizeof(base));
	l[1].product_id = 6;
	ok(fp(7, "card", l, 2, params) != h, "another product changes it");
	memcpy(l, base, sizeof(base));
	l[0].quantity = 3;
	ok(fp(7, "card", l, 2, params) != h, "another quantity changes it");
	ok(fp(7, "card", base, 1, params) != h, "dropping a line changes it");
	memcpy(l, base, sizeof(base));
	/* INDENT OFF */
	l[2] = (os_line) {9, 1, 0};
	/* INDENT ON */
	ok(fp(7, "card", l, 3, params) != h, "adding a line changes it");
	ok(fp(7, "card", base, 2, "{\"points\": 101}") != h, "other params change it");
	ok(fp(7, "card", base, 2, "") != h && fp(7, "card", base, 2, "{}") != h,
	   "no params or empty params differ from params");
	ok(fp(7, "ab", base, 0, "c") != fp(7, "a", base, 0, "bc"),
	   "moving a character from the method to the params changes it");

	{
		os_line		a[] = {{5, 1, 0}, {1, 2, 0}};
		os_line		b[] = {{1, 1, 0}, {5, 1, 0}, {1, 1, 0}};
		int			na = 2;
		int			nb = 3;

		ok(os_lines_normalize(a, &na) == OS_OK && os_lines_normalize(b, &nb) == OS_OK &&
		   fp(7, "card", a, na, params) == h && fp(7, "card", b, nb, params) == h,
		   "after normalizing, line order and split lines do not matter");
	}
	ok(runs_cleanly(fingerprint_null_strings),
	   "a NULL method or params does not crash the fingerprint");
}

/* The server a standby's primary_conninfo names, never its password. */
static bool
server_is(const char *conninfo, bool expect_ok, const char *expect)
{
	char		buf[128];
	bool		r = os_conninfo_server(conninfo, buf, sizeof buf);

	if (r != expect_ok || strcmp(buf, expect) != 0)
		diag("%s: got %s \"%s\"", conninfo ? conninfo : "(null)", r ? "true" : "false", buf);
	return r == expect_ok && strcmp(buf, expect) == 0;
}

static void
test_conninfo_server(void)
{
	char		small[8];

	ok(server_is("user=rep password=secret host=db1 port=5433 sslmode=prefer", true,
				 "host=db1 port=5433"), "host and port, nothing else");
	ok(server_is("host = 'my host' port='5 4' password='a b'", true, "host=my host port=5 4"),
	   "quoted values and spaces around =");
	ok(server_is("host='it\\'s' port=1", true, "host=it's port=1"), "an escaped quote");
	ok(server_is("hostaddr=10.0.0.1 port=5432", true, "host=10.0.0.1 port=5432"),
	   "hostaddr when there is no host");
	ok(server_is("host=/tmp/sock hostaddr=10.0.0.1", true, "host=/tmp/sock"),
	   "host wins over hostaddr");
	ok(server_is("port=5432 user=x", true, "port=5432"), "a port alone");
	ok(server_is("host=a,b port=1,2", true, "host=a,b port=1,2"), "host lists as written");
	ok(server_is("user=x password=y", false, ""), "neither host nor port: false");
	ok(server_is("", false, "") && server_is(NULL, false, ""), "empty or NULL: false");
	ok(server_is("postgresql://h:5/db", false, ""), "a URI: false");
	ok(server_is("host='unterminated port=5", false, ""), "an unterminated quote: false");
	ok(server_is("host=x = y", false, ""), "malformed text: false");
	ok(server_is("password=p host", false, ""), "a keyword without value: false");
	ok(os_conninfo_server("host=averylonghostname", small, sizeof small) &&
	   strlen(small) == sizeof small - 1, "a small buffer is cut, terminated");
	ok(!os_conninfo_server("host=x", small, 0), "no buffer: false");
}

/* Consumer positions are trusted only where they were cut. */
static void
test_position_trusted(void)
{
	const uint64_t here = UINT64_C(7442000000000000001);
	const uint64_t there = UINT64_C(7442000000000000002);

	ok(os_position_trusted(here, here, 1942, 0, 2000),
	   "a position cut here, below the current snapshot, is trusted");
	ok(os_position_trusted(here, here, 2000, 2000, 2000),
	   "a position at the current snapshot's xmax is trusted");
	ok(!os_position_trusted(there, here, 1942, 0, 2000),
	   "a position stamped by another cluster is not trusted");
	ok(!os_position_trusted(here, here, 1995, 0, 773),
	   "a position beyond the current snapshot is not trusted");
	ok(!os_position_trusted(here, here, 700, 1995, 773),
	   "an open batch beyond the current snapshot is not trusted");
	ok(!os_position_trusted(0, here, 1, 0, 773),
	   "the unknown stamp 0 is never trusted");
}

/* Each saga move counts once under its outcome; the undoing ones also count as compensations. */
static void
test_event_counters(void)
{
	static const struct
	{
		os_event	ev;
		os_counter	counter;
		bool		compensates;
	}			want[] = {
		{OS_EVENT_CAPTURE, OS_COUNTER_PAID, false},
		{OS_EVENT_DECLINE, OS_COUNTER_DECLINED, true},
		{OS_EVENT_CANCEL, OS_COUNTER_CANCELLED, true},
		{OS_EVENT_EXPIRE, OS_COUNTER_EXPIRED, true},
		{OS_EVENT_COMPLETE, OS_COUNTER_COMPLETED, false},
		{OS_EVENT_REFUND, OS_COUNTER_REFUNDED, true},
	};
	bool		comp;

	ok(sizeof(want) / sizeof(want[0]) == OS_EVENT_COUNT, "every event has a counter");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
	{
		os_counter	c = os_event_counter(want[i].ev, &comp);

		ok(c == want[i].counter && comp == want[i].compensates,
		   "event %s counts as expected", os_event_name(want[i].ev));
	}
	ok(os_event_counter(OS_EVENT_COUNT, &comp) == OS_COUNTER_COUNT && !comp,
	   "an unknown event counts nothing");
	ok(os_event_counter((os_event) -1, &comp) == OS_COUNTER_COUNT && !comp,
	   "event -1 counts nothing");
}

int
main(void)
{
	test_results();
	test_money();
	test_points();
	test_rate();
	test_rate_take();
	test_stock_reserve();
	test_rules();
	test_quantity();
	test_normalize();
	test_total();
	test_transitions();
	test_allowed_events();
	test_edges_and_finals();
	test_names();
	test_strategy_table();
	test_strategies();
	test_plan_check();
	test_virtual_accounts();
	test_fingerprint();
	test_conninfo_server();
	test_position_trusted();
	test_event_counters();

	printf("1..%d\n", tap_count);
	if (tap_failed)
		diag("%d of %d tests failed", tap_failed, tap_count);
	return tap_failed ? 1 : 0;
}
