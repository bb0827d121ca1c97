/*
 * os_rules.c
 *	  Rules across the columns of one row, which the tables' CHECK
 *	  constraints call (src/rules.c): stock and payment parts that must add
 *	  up, and the sign of a points ledger entry.
 *
 * They are functions rather than SQL expressions because PostgreSQL reads a
 * CHECK constraint's expression back from its stored node text in every
 * statement that writes the table; a call with the columns as arguments is
 * half the text of the sum it replaces (bench/README.md).  Also: the server
 * a standby's primary_conninfo names, for the refusal of writes there.
 */
#include <stdio.h>
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
 * One keyword=value pair of a conninfo from *p: the keyword into key, the
 * value (single quotes and backslash escapes undone) into val, each cut at
 * its buffer's size.  False at the end or on malformed text.
 */
static bool
conninfo_pair(const char **p, char *key, size_t keylen, char *val, size_t vallen)
{
	const char *s = *p;
	size_t		k = 0;
	size_t		v = 0;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (*s == '\0')
		return false;
	while (*s != '\0' && *s != '=' && *s != ' ' && *s != '\t')
	{
		if (k + 1 < keylen)
			key[k++] = *s;
		s++;
	}
	key[k] = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s++ != '=' || k == 0)
		return false;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\'')
	{
		for (s++; *s != '\''; s++)
		{
			if (*s == '\\' && s[1] != '\0')
				s++;
			if (*s == '\0')
				return false;	/* unterminated quote */
			if (v + 1 < vallen)
				val[v++] = *s;
		}
		s++;
	}
	else
		for (; *s != '\0' && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r'; s++)
		{
			if (*s == '\\' && s[1] != '\0')
				s++;
			if (v + 1 < vallen)
				val[v++] = *s;
		}
	val[v] = '\0';
	*p = s;
	return true;
}

bool
os_conninfo_server(const char *conninfo, char *buf, size_t buflen)
{
	char		key[32];
	char		val[256];
	char		host[256] = "";
	char		hostaddr[256] = "";
	char		port[256] = "";
	const char *p = conninfo;
	const char *h;

	if (buflen == 0)
		return false;
	buf[0] = '\0';
	if (conninfo == NULL || strncmp(conninfo, "postgres://", 11) == 0 ||
		strncmp(conninfo, "postgresql://", 13) == 0)
		return false;
	while (conninfo_pair(&p, key, sizeof key, val, sizeof val))
	{
		if (strcmp(key, "host") == 0)
			snprintf(host, sizeof host, "%s", val);
		else if (strcmp(key, "hostaddr") == 0)
			snprintf(hostaddr, sizeof hostaddr, "%s", val);
		else if (strcmp(key, "port") == 0)
			snprintf(port, sizeof port, "%s", val);
	}
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != '\0')
		return false;			/* stopped at malformed text */
	h = host[0] != '\0' ? host : hostaddr;
	if (h[0] == '\0' && port[0] == '\0')
		return false;
	snprintf(buf, buflen, "%s%s%s%s%s", h[0] ? "host=" : "", h,
			 h[0] && port[0] ? " " : "", port[0] ? "port=" : "", port);
	return true;
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
