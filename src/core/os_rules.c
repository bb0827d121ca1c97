/*
 * os_rules.c
 *	  Rules across the columns of one row, which the tables' CHECK
 *	  constraints call (src/rules.c): stock and payment parts that must add
 *	  up, and the sign of a points ledger entry.
 *
 * They are functions rather than SQL expressions because PostgreSQL reads a
 * CHECK constraint's expression back from its stored node text in every
 * statement that writes the table; a call with the columns as arguments is
 * half the text of the sum it replaces (bench/README.md).
 */
#include <string.h>

#include "os_core.h"

os_result
os_parts_add_up(const os_money *parts, int nparts, os_money total, bool *equal)
{
	os_money	sum = 0;

	for (int i = 0; i < nparts; i++)
	{
		if (os_money_add(sum, parts[i], &sum) != OS_OK)
			return OS_ERR_OVERFLOW;
	}
	*equal = sum == total;
	return OS_OK;
}

bool
os_ledger_delta_ok(const char *kind, size_t kind_len, int64_t delta)
{
	if (kind_len == 5 && memcmp(kind, "spend", 5) == 0)
		return delta < 0;
	if (kind_len == 6 && memcmp(kind, "adjust", 6) == 0)
		return delta != 0;
	return delta > 0;
}

/*
 * A consumer position is a snapshot of one cluster's xids: trusted only in
 * the cluster that stamped it, and only while no snapshot of it is ahead
 * of the current one (positions only move forward, so a valid one is never
 * past the present).  Stamp 0 stands for "unknown".
 */
bool
os_position_trusted(uint64_t stamp, uint64_t system_identifier,
					uint64_t last_xmax, uint64_t batch_xmax, uint64_t cur_xmax)
{
	return stamp != 0 && stamp == system_identifier &&
		last_xmax <= cur_xmax && batch_xmax <= cur_xmax;
}
