#!/usr/bin/env bash
# pg_regress and the isolation specs on another PostgreSQL major version
# (17, 18): the shared pgmatrix.sh (read its header) fetches that version's
# server (npm) and server headers (Debian), builds a copy of this tree with
# warnings as errors, starts a throwaway cluster and runs "make installcheck".
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

start=$SECONDS
PGM_WORK=$work/pg PGM_ISOLATION=1 PGM_PSQL="$OS_PGBIN/psql" \
	PGM_MAKE_ARGS="OS_WERROR=-Werror MODULES=test/matrix/minor_shim" \
	PGM_CONF="shared_preload_libraries = 'minor_shim'" \
	bash "$pgmatrix" "$major" "$work/src"
rc=$?
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
