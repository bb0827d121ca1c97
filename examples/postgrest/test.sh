#!/usr/bin/env bash
# The PostgREST wrapper (errors.sql) against the running server the PG*
# variables name: pg_regress with sql/ and expected/ here, in a database of
# its own.  Run by test/run.
set -euo pipefail
cd "$(dirname "$0")"
PG_CONFIG=${PG_CONFIG:-pg_config}
pgxs=$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")
out=$(mktemp -d /tmp/order_system_postgrest.XXXXXX)
rc=0
"$pgxs/test/regress/pg_regress" --inputdir=. --outputdir="$out" --bindir="$("$PG_CONFIG" --bindir)" \
	--dbname=order_system_postgrest --load-extension=order_system postgrest_errors || rc=$?
if [ $rc -eq 0 ]; then
	rm -rf "$out"
else
	cat "$out/regression.diffs" 2>/dev/null
	echo "results in $out"
fi
exit $rc
