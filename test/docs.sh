#!/usr/bin/env bash
# README.md is the reference of the installed extension.  Against database
# order_system_tap (test/run's pgTAP database, with the extension installed)
# check that:
#   - every function of schema order_system has exactly one row in the API
#     tables ("| `name(args) → ...` | what it does | who may call it |"),
#     trigger functions in the "Triggers for existing schemas" table; its
#     arguments are the catalog's (names, types, defaults; OUT ones left
#     out) and the last cell names exactly the roles granted EXECUTE (app,
#     gateway, member, monitor, admin: those of them that exist here);
#     a row naming a function this database lacks is reported (a warning:
#     the README may describe a newer build than the one installed);
#   - every error code of order_system.error_codes() is a row of the errors
#     table ("| `SQLSTATE` | name |");
#   - every setting order_system.* is a row of the settings table, with its
#     default (`''` when empty) and context ("| `name` | `default` | context |").
# Run by test/run; the database name can be given as $1.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
db=${1:-order_system_tap}
readme=README.md
status=0
fail() { echo "$*"; status=1; }
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

# section HEADING: the lines after the heading line that starts with HEADING,
# up to the next heading of the same or a higher level.
section() {
	awk -v h="$1" '
		!f && index($0, h) == 1 { f = 1; split(h, a, " "); lvl = length(a[1]); next }
		f && /^#+ / { split($0, b, " "); if (length(b[1]) <= lvl) exit }
		f' "$readme"
}
# rows: "name|roles|args" of every function row on stdin, roles sorted and
# comma-separated (a parenthesised note in the roles cell is left out).
rows() {
	awk -F'|' '/^\| `[a-z_0-9]+\(/ {
		name = $2; sub(/^ `/, "", name); sub(/\(.*/, "", name)
		args = $2; sub(/^ `[a-z_0-9]+\(/, "", args); sub(/\)( → .*)?` *$/, "", args)
		roles = $(NF - 1); gsub(/\([^)]*\)/, "", roles); gsub(/[ `]/, "", roles)
		print name "|" roles "|" args }' |
		while IFS='|' read -r name roles args; do
			printf '%s|%s|%s\n' "$name" "$(tr ',' '\n' <<<"$roles" | grep -v '^$' | sort | paste -sd, -)" "$args"
		done
}

api=$(section "## API reference" | rows)
triggers=$(section "### Triggers for existing schemas" | rows)
[ -n "$api" ] || fail "README has no API tables under '## API reference'"

# The extension's roles that may use its schema in this database, as the
# short names the tables use (roles are cluster-wide: one may exist for
# another database's newer version).
roles=" $(q "SELECT string_agg(substr(a.grantee::regrole::text, 14), ' ')
	FROM pg_namespace n, aclexplode(n.nspacl) a
	WHERE n.nspname = 'order_system' AND a.privilege_type = 'USAGE'
	  AND a.grantee::regrole::text IN ('order_system_app', 'order_system_gateway', 'order_system_member',
									   'order_system_monitor', 'order_system_admin')") "

catalog=$(q "
	SELECT p.proname, p.prorettype = 'trigger'::regtype,
		   regexp_replace(regexp_replace(pg_get_function_arguments(p.oid), '(^|, )OUT [^,]+', '', 'g'),
						  '^, |::[a-z ]+', '', 'g'),
		   coalesce((SELECT string_agg(DISTINCT substr(a.grantee::regrole::text, 14), ',')
					   FROM aclexplode(p.proacl) a
					  WHERE a.privilege_type = 'EXECUTE'
						AND a.grantee::regrole::text IN ('order_system_app', 'order_system_gateway',
														 'order_system_member', 'order_system_monitor',
														 'order_system_admin')), '')
	  FROM pg_proc p
	 WHERE p.pronamespace = 'order_system'::regnamespace
	 ORDER BY 1") || exit 1
[ -n "$catalog" ] || fail "no functions in schema order_system of database $db"

while IFS='|' read -r fn is_trigger args granted; do
	[ -n "$fn" ] || continue
	granted=$(tr ',' '\n' <<<"$granted" | sort | paste -sd, -)
	if [ "$is_trigger" = t ]; then
		found=$(grep -c "^$fn|" <<<"$triggers")
		where="the triggers table"
	else
		found=$(grep -c "^$fn|" <<<"$api")
		where="an API table"
	fi
	if [ "$found" -eq 0 ]; then
		fail "README: function $fn has no row in $where"
		continue
	fi
	[ "$found" -gt 1 ] && fail "README: function $fn has $found rows in $where"
	row=$(grep -m1 "^$fn|" <<<"$api")
	documented=$(tr ',' '\n' <<<"$(cut -d'|' -f2 <<<"$row")" |
		while read -r r; do [[ $roles == *" $r "* ]] && echo "$r"; done | paste -sd, -)
	[ "$documented" = "$granted" ] ||
		fail "README: $fn may be called by '$documented' says the table, but EXECUTE is granted to '$granted'"
	[ "$(cut -d'|' -f3- <<<"$row")" = "$args" ] ||
		fail "README: $fn($(cut -d'|' -f3- <<<"$row")) has the arguments ($args)"
done <<<"$catalog"

# Rows naming a function this database does not have.
while IFS='|' read -r fn _; do
	[ -n "$fn" ] || continue
	grep -q "^$fn|" <<<"$catalog" ||
		echo "warning: README documents $fn, which schema order_system does not have here"
done <<<"$api"

errors=$(section "## Errors")
while IFS='|' read -r name code; do
	grep -qE "^\| \`$code\` \| $name \|" <<<"$errors" || fail "README: the errors table lacks $code $name"
done < <(q "SELECT name, sqlstate FROM order_system.error_codes()")

# The settings exist once the library is loaded: call one of its functions first.
settings=$(section "## Settings")
while IFS='|' read -r name boot unit context; do
	[ -n "$name" ] || continue
	row=$(grep -F "| \`$name\` |" <<<"$settings")
	if [ -z "$row" ]; then
		fail "README: the settings table lacks $name"
		continue
	fi
	default="\`$boot$unit\`"
	[ -z "$boot$unit" ] && default="\`''\`"
	awk -F'|' -v n="$name" -v d="$default" -v c="$context" '
		{ gsub(/^ +| +$/, "", $3); gsub(/^ +| +$/, "", $4) }
		index($3, d) != 1 { print "README: the default of " n " is " d ", not " $3; bad = 1 }
		$4 != c { print "README: the context of " n " is " c ", not " $4; bad = 1 }
		END { exit bad }' <<<"$row" || status=1
done < <(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" \
	-c "SELECT FROM order_system.error_codes() LIMIT 0" \
	-c "SELECT name, boot_val, coalesce(unit, ''), context FROM pg_settings WHERE name LIKE 'order_system.%'")

# The internals (schema order_system_internal) are no API: doc/internals.md
# names each of them.
while read -r fn; do
	[ -n "$fn" ] || continue
	grep -qF "\`$fn(" doc/internals.md || fail "doc/internals.md does not list internal function $fn"
done < <(q "SELECT DISTINCT proname FROM pg_proc
	 WHERE pronamespace = 'order_system_internal'::regnamespace ORDER BY 1") || exit 1

[ $status -eq 0 ] && echo "README documents every function, error code and setting"
exit $status
