/*
 * os_rate.c
 *	  The per-member order rate limit: a token bucket.  The refill itself is
 *	  done by the guarded UPDATE that stores the bucket (src/orders.c); the
 *	  verdict and the wait it implies are decided here.
 */
#include "os_core.h"

bool
os_rate_allows(double tokens_left)
{
	return tokens_left >= 0.0;
}

/* Seconds until the bucket holds a whole token again, or 0 if it does. */
double
os_rate_retry_after(double tokens_left, int32_t per_minute)
{
	if (os_rate_allows(tokens_left) || per_minute <= 0)
		return 0.0;
	return -tokens_left * 60.0 / per_minute;
}
