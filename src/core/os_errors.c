/*
 * os_errors.c
 *	  Result codes of the domain core and the SQLSTATE each maps to.
 *
 * Domain errors form their own SQLSTATE class "OS"; standard codes are used
 * where one fits.  README's error table lists the same rows.
 */
#include "os_core.h"

static const os_result_info result_table[OS_RESULT_COUNT] = {
	{OS_OK, "ok", "00000", "success"},
	{OS_NOOP, "noop", "00000", "already done"},
	{OS_ERR_MEMBER_NOT_FOUND, "member_not_found", "OS001", "member not found"},
	{OS_ERR_MEMBER_INACTIVE, "member_inactive", "OS002", "member is not active"},
	{OS_ERR_PRODUCT_NOT_FOUND, "product_not_found", "OS003", "product not found"},
	{OS_ERR_PRODUCT_INACTIVE, "product_inactive", "OS004", "product is not active"},
	{OS_ERR_OUT_OF_STOCK, "out_of_stock", "OS005", "not enough stock"},
	{OS_ERR_INSUFFICIENT_POINTS, "insufficient_points", "OS006", "not enough points"},
	{OS_ERR_ILLEGAL_TRANSITION, "illegal_transition", "OS007", "illegal order state transition"},
	{OS_ERR_UNKNOWN_PAYMENT_METHOD, "unknown_payment_method", "OS008", "unknown or disabled payment method"},
	{OS_ERR_IDEMPOTENCY_CONFLICT, "idempotency_conflict", "OS009", "idempotency key reused with different parameters"},
	{OS_ERR_ORDER_NOT_FOUND, "order_not_found", "OS010", "order not found"},
	{OS_ERR_CURRENCY_MISMATCH, "currency_mismatch", "OS011", "currencies do not match"},
	{OS_ERR_PAYMENT_MISMATCH, "payment_mismatch", "OS012", "payment does not match the order"},
	{OS_ERR_BAD_PAYMENT_PLAN, "bad_payment_plan", "OS013", "payment handler returned an invalid plan"},
	{OS_ERR_PAYMENT_NOT_FOUND, "payment_not_found", "OS014", "payment not found"},
	{OS_ERR_CONSUMER_NOT_FOUND, "consumer_not_found", "OS015", "event consumer is not registered"},
	{OS_ERR_BATCH_NOT_FOUND, "batch_not_found", "OS016", "the consumer has no such batch"},
	{OS_ERR_RATE_LIMITED, "rate_limited", "OS017", "too many orders: try again later"},
	{OS_ERR_POSITIONS_UNRESTORED, "positions_unrestored", "OS018", "consumer positions cannot be re-based yet"},
	{OS_ERR_OVERFLOW, "numeric_value_out_of_range", "22003", "amount out of range"},
	{OS_ERR_INVALID_PARAMETER, "invalid_parameter_value", "22023", "invalid parameter"},
	{OS_ERR_NULL_VALUE, "null_value_not_allowed", "22004", "argument must not be null"},
};

const os_result_info *
os_result_lookup(os_result code)
{
	if ((int) code < 0 || code >= OS_RESULT_COUNT)
		return &result_table[OS_ERR_INVALID_PARAMETER];
	return &result_table[code];
}
