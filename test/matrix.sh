#!/usr/bin/env bash
# pg_regress and the isolation specs on another PostgreSQL major version
# (17, 18): the shared pgmatrix.sh (read its header) fetches that version's
# server (npm) and server headers (Debian), builds a copy of this tree with
# warnings as errors, starts a throwaway cluster and runs "make installcheck";
# then, on that cluster, the notifier (preloaded) must run and send a NOTIFY.
#
#   test/matrix.sh MAJOR        (as root it installs npm when it is missing)
#
# Environment: OS_PGMATRIX (default: shared/tools/pgmatrix.sh beside the
# repository), OS_MATRIX_PORT (the cluster listens on OS_MATRIX_PORT +
# MAJOR % 10; default pgmatrix's own), PGM_CACHE (the downloads, kept between
# runs; default /var/cache/pgmatrix as root, ~/.cache/pgmatrix otherwise).
#
# The build also makes test/matrix/minor_shim.so and the server preloads it:
# the Debian headers can be of a newer minor release than the npm server,
# and minor_shim.c lends such a server the few functions those headers
# expect (see there).  It does nothing where the server has them.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$OS_ROOT"

major=${1:?usage: test/matrix.sh MAJOR}
pgmatrix=${OS_PGMATRIX:-$OS_ROOT/../shared/tools/pgmatrix.sh}
[ -f "$pgmatrix" ] || os_die "no pgmatrix.sh at $pgmatrix (set OS_PGMATRIX)"

os_ensure_packages
# pgmatrix fetches the server with npm and reads its file list with node.
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
	OS_PACKAGES=npm os_ensure_packages
fi
if [ -z "${PGM_CACHE:-}" ] && [ "$(id -u)" -ne 0 ]; then
	export PGM_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/pgmatrix
fi
[ -n "${OS_MATRIX_PORT:-}" ] && export PGM_PORT=$((OS_MATRIX_PORT + major % 10))

# A copy of the sources without the 15 cluster, build products and results.
work=$(mktemp -d "${TMPDIR:-/tmp}/order_system_pg$major.XXXXXX")
chmod 755 "$work"
mkdir "$work/src"
tar -C "$OS_ROOT" -c --exclude=./.git --exclude=./tmp_check --exclude=./results \
	--exclude=./output_iso --exclude=./log --exclude=./regression.diffs \
	--exclude=./regression.out --exclude='./bench/tmp*' --exclude=./bench/results \
	--exclude=./demo/tmp --exclude='*.o' --exclude='*.so' --exclude='*.bc' . |
	tar -C "$work/src" -x || os_die "cannot copy the sources to $work/src"

# The notifier on the cluster the tests left (pg_regress does not preload
# the library): preloaded, its worker runs and sends a NOTIFY after an
# order commits.
notifier() {
	local data=$work/pg/run/data bin=$work/pg/prefix/bin
	local -a psql=("$OS_PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$work/pg/run/sock"
		-p "${PGM_PORT:-$((55460 + major % 10))}" -U postgres -d postgres)
	local wait="DO \$\$BEGIN FOR i IN 1..100 LOOP EXIT WHEN (SELECT %s FROM order_system.notifier_status());
		PERFORM pg_sleep(0.1); END LOOP; END\$\$; SELECT %s FROM order_system.notifier_status()"

	os_log "PostgreSQL $major: the notifier"
	echo "shared_preload_libraries = 'minor_shim, order_system'" >>"$data/postgresql.conf"
	os_as_owner "$bin/pg_ctl" -D "$data" -l "$work/pg/run/server.log" -w -t 60 restart >/dev/null &&
		"${psql[@]}" -c "CREATE EXTENSION order_system" &&
		[ "$("${psql[@]}" -c "$(printf "$wait" running running)")" = t ] &&
		"${psql[@]}" -c "SELECT order_system.place_order(order_system.create_member('notifier', NULL, 0),
			format('[{\"product_id\": %s, \"quantity\": 1}]',
				   order_system.create_product('N-1', 'notifier', 100, 'KRW', 5))::jsonb, 'card')" >/dev/null &&
		[ "$("${psql[@]}" -c "$(printf "$wait" "notifies > 0" "commits > 0 AND notifies > 0")")" = t ] &&
		echo "notifier: running, woken by a commit, sent a NOTIFY" >&2
}

stop_cluster() {
	[ -f "$work/pg/run/data/postmaster.pid" ] || return 0
	os_as_owner "$work/pg/prefix/bin/pg_ctl" -D "$work/pg/run/data" -m fast -w stop >/dev/null ||
		echo "warning: could not stop the PostgreSQL $major cluster" >&2
}
trap stop_cluster EXIT

start=$SECONDS
PGM_WORK=$work/pg PGM_ISOLATION=1 PGM_PSQL="$OS_PGBIN/psql" PGM_KEEP=1 \
	PGM_MAKE_ARGS="OS_WERROR=-Werror MODULES=test/matrix/minor_shim" \
	PGM_CONF="shared_preload_libraries = 'minor_shim'" \
	bash "$pgmatrix" "$major" "$work/src"
rc=$?
[ $rc -eq 0 ] && { notifier || rc=1; }
stop_cluster
echo "PostgreSQL $major: $((SECONDS - start)) s" >&2
if [ $rc -eq 0 ]; then
	rm -rf "$work"
	exit 0
fi
for f in regression.diffs output_iso/regression.diffs; do
	[ -s "$work/pg/src/$f" ] && { echo "---- $f"; cat "$work/pg/src/$f"; }
done
echo "PostgreSQL $major: exit $rc of pgmatrix.sh; its files are in $work/pg" >&2
exit 1
