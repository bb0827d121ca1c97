#!/usr/bin/env bash
# Run the pg_regress suite (sql/) against a throwaway cluster whose server
# processes all run under valgrind memcheck, then fail if any valgrind error
# has order_system code (order_system.so, or our src/ files) on its stack.
#
#   test/valgrind.sh        (as root it installs valgrind if missing)
#
# Heavier than the plain suite: about 3 minutes on two busy cores.
# OS_VG_DIR and OS_VG_PORT pick the cluster's directory and port.  The
# valgrind logs stay in $OS_VG_DIR/vg (one file per process) for reading.
# test/valgrind.supp silences known noise of the server itself.  An error
# counts as ours when any frame of its stacks (where it happened, where the
# memory came from) is in order_system.so: an error PostgreSQL detects in
# data we handed it counts too.  A process with an error exits 128, which
# the postmaster takes for a crash: the tests running then fail as well.
#
# Debian's server is not built with USE_VALGRIND, so palloc chunks inside a
# memory context block are not tracked one by one: memcheck sees reads of
# never-written malloc memory, accesses past a block, bad frees and
# uninitialised bytes passed to system calls, not every palloc overrun.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$OS_ROOT"

OS_PACKAGES="$OS_PACKAGES valgrind"
os_ensure_packages
os_build_install

dir=${OS_VG_DIR:-/tmp/order_system_valgrind}
port=${OS_VG_PORT:-54339}
start=$SECONDS
trap 'os_stop_cluster quiet' EXIT
os_start_cluster "$dir" "$port"
dir=$OS_CLUSTER
os_as_owner pg_ctl -D "$dir/data" -m fast -w stop >/dev/null

# pg_ctl starts this wrapper instead of postgres; backends are forked, so
# every server process runs under the same valgrind.
os_as_owner rm -rf "$dir/vg" "$dir/regress"
os_as_owner mkdir -p "$dir/vg" "$dir/regress"
cat >"$dir/postgres-vg" <<EOF
#!/bin/sh
exec valgrind --quiet --trace-children=yes --leak-check=no --track-origins=yes \\
	--num-callers=30 --error-limit=no --error-exitcode=128 --gen-suppressions=all \\
	--suppressions="$OS_ROOT/test/valgrind.supp" --fullpath-after= \\
	--error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END \\
	--log-file="$dir/vg/%p.log" "$OS_PGBIN/postgres" "\$@"
EOF
chmod 755 "$dir/postgres-vg"
os_log "restarting the cluster under valgrind"
os_as_owner pg_ctl -D "$dir/data" -p "$dir/postgres-vg" -l "$dir/server.log" -w -t 600 start \
	>/dev/null || { cat "$dir/server.log"; os_die "the server did not start under valgrind"; }

os_log "pg_regress under valgrind"
regress_ok=true
"$OS_PGXS_SRC/test/regress/pg_regress" --bindir="$OS_PGBIN" --host="$PGHOST" --port="$PGPORT" \
	--user=postgres --dbname=contrib_regression --load-extension=order_system \
	--inputdir="$OS_ROOT" --outputdir="$dir/regress" \
	$(basename -s .sql sql/*.sql) || regress_ok=false
os_stop_cluster
$regress_ok || cat "$dir/regress/regression.diffs" 2>/dev/null

# Each error is a block between the markers; ours has one of our frames.
ours=$(cat "$dir"/vg/*.log | awk -v root="$OS_ROOT/src/" '
	/VALGRINDERROR-BEGIN/ { block = ""; inblock = 1; next }
	/VALGRINDERROR-END/ {
		inblock = 0; total++
		if (index(block, "order_system.so") || index(block, root)) { mine++; print block }
		next
	}
	inblock { block = block $0 "\n" }
	END { printf "%d valgrind errors, %d in order_system code\n", total, mine > "/dev/stderr" }')
echo "ran in $((SECONDS - start)) s; logs in $dir/vg" >&2
if [ -n "$ours" ]; then
	printf '%s\n' "$ours"
	echo "FAILED: valgrind errors in order_system code" >&2
	exit 1
fi
$regress_ok || { echo "FAILED: pg_regress under valgrind" >&2; exit 1; }
