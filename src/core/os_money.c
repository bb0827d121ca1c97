/*
 * os_money.c
 *	  Overflow-checked money arithmetic and order-line rules.
 */
#include <stdlib.h>
#include <string.h>

#include "os_core.h"

/* Largest quantity one line may ask for; keeps totals far from INT64_MAX. */
#define OS_MAX_QUANTITY INT64_C(1000000000)
/* Most distinct lines in one order. */
#define OS_MAX_LINES 1000

os_result
os_money_add(os_money a, os_money b, os_money *out)
{
	os_money	r;

	if (__builtin_add_overflow(a, b, &r))
		return OS_ERR_OVERFLOW;
	*out = r;
	return OS_OK;
}

os_result
os_money_sub(os_money a, os_money b, os_money *out)
{
	os_money	r;

	if (__builtin_sub_overflow(a, b, &r))
		return OS_ERR_OVERFLOW;
	*out = r;
	return OS_OK;
}

os_result
os_money_mul(os_money a, int64_t qty, os_money *out)
{
	os_money	r;

	if (__builtin_mul_overflow(a, qty, &r))
		return OS_ERR_OVERFLOW;
	*out = r;
	return OS_OK;
}

/* amount * bp / 10000, rounded down; amount and bp must not be negative. */
os_result
os_money_rate_bp(os_money amount, int32_t basis_points, os_money *out)
{
	__int128	r;

	if (amount < 0 || basis_points < 0)
		return OS_ERR_INVALID_PARAMETER;
	r = (__int128) amount * basis_points / 10000;
	if (r > INT64_MAX)
		return OS_ERR_OVERFLOW;
	*out = (os_money) r;
	return OS_OK;
}

os_result
os_check_quantity(int64_t quantity)
{
	if (quantity <= 0 || quantity > OS_MAX_QUANTITY)
		return OS_ERR_INVALID_PARAMETER;
	return OS_OK;
}

static int
line_cmp(const void *a, const void *b)
{
	int64_t		x = ((const os_line *) a)->product_id;
	int64_t		y = ((const os_line *) b)->product_id;

	return (x > y) - (x < y);
}

/*
 * Sort lines by product id and merge repeats, so that stock rows are always
 * locked in one global order (no deadlocks) and each product once.
 */
os_result
os_lines_normalize(os_line *lines, int *nlines)
{
	int			n = *nlines;
	int			out = 0;

	if (n <= 0 || n > OS_MAX_LINES)
		return OS_ERR_INVALID_PARAMETER;
	for (int i = 0; i < n; i++)
		if (lines[i].product_id <= 0 || os_check_quantity(lines[i].quantity) != OS_OK)
			return OS_ERR_INVALID_PARAMETER;
	qsort(lines, n, sizeof(os_line), line_cmp);
	for (int i = 0; i < n; i++)
	{
		if (out > 0 && lines[out - 1].product_id == lines[i].product_id)
		{
			lines[out - 1].quantity += lines[i].quantity;
			if (lines[out - 1].quantity > OS_MAX_QUANTITY)
				return OS_ERR_INVALID_PARAMETER;
			continue;
		}
		lines[out++] = lines[i];
	}
	*nlines = out;
	return OS_OK;
}

os_result
os_lines_total(const os_line *lines, int nlines, os_money *total)
{
	os_money	sum = 0;

	for (int i = 0; i < nlines; i++)
	{
		os_money	amount;

		if (lines[i].unit_price < 0)
			return OS_ERR_INVALID_PARAMETER;
		if (os_money_mul(lines[i].unit_price, lines[i].quantity, &amount) != OS_OK ||
			os_money_add(sum, amount, &sum) != OS_OK)
			return OS_ERR_OVERFLOW;
	}
	*total = sum;
	return OS_OK;
}

os_result
os_points_earned(os_money paid_outside, int32_t rate_bp, os_money *earned)
{
	return os_money_rate_bp(paid_outside, rate_bp, earned);
}

uint64_t
os_fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
	{
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static size_t
strlen_safe(const char *s)
{
	return s ? strlen(s) : 0;
}

/* Fingerprint of normalized lines, method and params: same request, same value. */
uint64_t
os_request_fingerprint(int64_t member_id, const char *method,
					   const os_line *lines, int nlines, const char *params_text)
{
	uint64_t	h = OS_FNV_INIT;

	h = os_fnv1a(h, &member_id, sizeof(member_id));
	h = os_fnv1a(h, method ? method : "", strlen_safe(method) + 1);
	for (int i = 0; i < nlines; i++)
	{
		h = os_fnv1a(h, &lines[i].product_id, sizeof(int64_t));
		h = os_fnv1a(h, &lines[i].quantity, sizeof(int64_t));
	}
	h = os_fnv1a(h, params_text ? params_text : "", strlen_safe(params_text) + 1);
	return h;
}
