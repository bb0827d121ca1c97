// order_system's errors as HTTP responses.
//
// The SQLSTATE says what went wrong; for the errors an application can act
// on (OS005, OS006, OS007, OS009, OS017) the DETAIL is a JSON object with the
// numbers it needs and the HINT, when there is one, the next step.  Nothing
// here parses message text.

// SQLSTATE -> [HTTP status, error name].  Anything else is a 500.
export const HTTP_STATUS = {
  OS001: [404, 'member_not_found'],
  OS002: [403, 'member_inactive'],
  OS003: [404, 'product_not_found'],
  OS004: [409, 'product_inactive'],
  OS005: [409, 'out_of_stock'],
  OS006: [402, 'insufficient_points'],
  OS007: [409, 'illegal_transition'],
  OS008: [422, 'unknown_payment_method'],
  OS009: [422, 'idempotency_conflict'],
  OS010: [404, 'order_not_found'],
  OS011: [422, 'currency_mismatch'],
  OS012: [409, 'payment_mismatch'],
  OS014: [404, 'payment_not_found'],
  OS017: [429, 'rate_limited'],
  22003: [422, 'numeric_value_out_of_range'],
  22004: [400, 'null_value_not_allowed'],
  22023: [400, 'invalid_parameter_value'],
  '22P02': [400, 'invalid_text_representation'],
  42501: [403, 'insufficient_privilege'],
  40001: [503, 'serialization_failure'],
  '40P01': [503, 'deadlock_detected'],
};

// The DETAIL as an object when it is one (the actionable errors), else null.
export function parseDetail(detail) {
  if (typeof detail !== 'string' || !detail.startsWith('{')) return null;
  try {
    return JSON.parse(detail);
  } catch {
    return null;
  }
}

// A node-postgres error as { status, headers, body }; null when it is not a
// database error (a bug or a lost connection: let it be a 500 upstream).
export function toHttp(err) {
  if (!err || typeof err.code !== 'string') return null;
  const [status, error] = HTTP_STATUS[err.code] ?? [500, 'internal_error'];
  const detail = parseDetail(err.detail);
  const headers = {};
  // 429: the wait the DETAIL gives, in whole seconds as Retry-After wants.
  if (status === 429 && detail && typeof detail.retry_after_s === 'number') {
    headers['retry-after'] = String(Math.max(1, Math.ceil(detail.retry_after_s)));
  }
  if (status === 503) headers['retry-after'] = '1';
  const body = {
    error,
    sqlstate: err.code,
    message: status === 500 ? 'internal error' : err.message,
    detail,
    hint: err.hint ?? null,
  };
  return { status, headers, body };
}
