/*
 * os_payment.c
 *	  Built-in payment strategies.  A strategy turns an amount into a plan:
 *	  how much is taken from points now, how much waits for an outside
 *	  participant (gateway, bank), when that wait expires, and a reference.
 *	  Methods registered in SQL produce the same plan as jsonb.
 */
#include <stdio.h>
#include <string.h>

#include "os_core.h"

static os_result
plan_points(const os_payment_request *req, os_payment_plan *plan)
{
	plan->points_amount = req->amount;
	return OS_OK;
}

static os_result
plan_card(const os_payment_request *req, os_payment_plan *plan)
{
	plan->external_amount = req->amount;
	plan->expires_in_s = req->card_timeout_s;
	return OS_OK;
}

static os_result
plan_bank_transfer(const os_payment_request *req, os_payment_plan *plan)
{
	plan->external_amount = req->amount;
	plan->expires_in_s = req->bank_transfer_ttl_s;
	if (!os_virtual_account(req->order_id, plan->reference, sizeof(plan->reference)))
		return OS_ERR_OVERFLOW;
	return OS_OK;
}

/* Points first, up to points_requested; the card pays the rest. */
static os_result
plan_points_card(const os_payment_request *req, os_payment_plan *plan)
{
	if (req->points_requested < 0 || req->points_requested > req->amount)
		return OS_ERR_INVALID_PARAMETER;
	plan->points_amount = req->points_requested;
	plan->external_amount = req->amount - req->points_requested;
	plan->expires_in_s = req->card_timeout_s;
	return OS_OK;
}

const os_payment_strategy os_builtin_strategies[] = {
	{"points", "pay_points", plan_points,
	"paid from the member's points balance at once"},
	{"card", "pay_card", plan_card,
	"pending until the card gateway confirms or declines"},
	{"bank_transfer", "pay_bank_transfer", plan_bank_transfer,
	"virtual account, pending until the deposit is confirmed or it expires"},
	{"points_card", "pay_points_card", plan_points_card,
	"params.points from the balance at once, the rest by card"},
};

const int	os_builtin_strategy_count =
sizeof(os_builtin_strategies) / sizeof(os_builtin_strategies[0]);

const os_payment_strategy *
os_strategy_by_handler(const char *handler)
{
	for (int i = 0; i < os_builtin_strategy_count; i++)
		if (handler && strcmp(os_builtin_strategies[i].handler, handler) == 0)
			return &os_builtin_strategies[i];
	return NULL;
}

/* A plan must split the amount exactly into non-negative parts. */
os_result
os_payment_plan_check(const os_payment_plan *plan, os_money amount)
{
	os_money	sum;

	if (plan->points_amount < 0 || plan->external_amount < 0 ||
		plan->expires_in_s < 0 || plan->expires_in_s > OS_MAX_EXPIRY_S)
		return OS_ERR_BAD_PAYMENT_PLAN;
	if (os_money_add(plan->points_amount, plan->external_amount, &sum) != OS_OK ||
		sum != amount)
		return OS_ERR_BAD_PAYMENT_PLAN;
	if (memchr(plan->reference, '\0', sizeof(plan->reference)) == NULL)
		return OS_ERR_BAD_PAYMENT_PLAN;
	return OS_OK;
}

static int
luhn_digit(const char *digits)
{
	int			sum = 0;
	int			len = (int) strlen(digits);

	/* double every second digit from the right, the check digit to come */
	for (int i = len - 1, dbl = 1; i >= 0; i--, dbl = !dbl)
	{
		int			d = digits[i] - '0';

		if (dbl)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
	}
	return (10 - sum % 10) % 10;
}

/*
 * "VA" + 15-digit order id + Luhn check digit: order 42 is VA0000000000000422.
 * False (and "") for an id that does not fit in 15 digits.
 */
bool
os_virtual_account(int64_t order_id, char *buf, size_t buflen)
{
	char		digits[24];

	if (order_id < 0 || order_id > INT64_C(999999999999999) || buflen < 19)
	{
		if (buflen > 0)
			buf[0] = '\0';
		return false;
	}
	snprintf(digits, sizeof(digits), "%015lld", (long long) order_id);
	snprintf(buf, buflen, "VA%s%d", digits, luhn_digit(digits));
	return true;
}

bool
os_virtual_account_valid(const char *ref)
{
	char		digits[16];

	if (ref == NULL || strlen(ref) != 18 || ref[0] != 'V' || ref[1] != 'A')
		return false;
	for (int i = 2; i < 18; i++)
		if (ref[i] < '0' || ref[i] > '9')
			return false;
	memcpy(digits, ref + 2, 15);
	digits[15] = '\0';
	return luhn_digit(digits) == ref[17] - '0';
}
