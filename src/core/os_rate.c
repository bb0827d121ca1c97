/*
 * os_rate.c
 *	  The per-member order rate limit: a token bucket.  Its refill, the
 *	  verdict and the wait it implies are decided here; the store keeps the
 *	  bucket in the member's row.
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

double
os_rate_take(double tokens, bool never_used, double elapsed_s, double burst,
			 double per_s)
{
	double		held = burst;

	if (!never_used)
	{
		held = tokens + (elapsed_s > 0.0 ? elapsed_s : 0.0) * per_s;
		if (held > burst)
			held = burst;
	}
	return held - 1.0;
}
