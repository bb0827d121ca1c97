#!/usr/bin/env bash
# README must document every SQL function of the extension (a "#### `name("
# heading, or a heading naming it in a list) and list every error code of
# order_system.error_codes().  Run by test/run against its cluster.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
while read -r fn; do
	grep -qE "^#### .*\`?$fn\b" README.md || { echo "README does not document function $fn"; status=1; }
done < <(psql -X -A -t -d order_system_tap -c "
	SELECT DISTINCT p.proname FROM pg_proc p
	 WHERE p.pronamespace = 'order_system'::regnamespace AND p.prorettype <> 'trigger'::regtype
	 ORDER BY 1")
while IFS='|' read -r name code; do
	grep -qE "^\| \`$code\` \| $name \|" README.md || { echo "README's error table lacks $code $name"; status=1; }
done < <(psql -X -A -t -d order_system_tap -c "SELECT name, sqlstate FROM order_system.error_codes()")
[ $status -eq 0 ] && echo "README documents every function and error code"
exit $status
