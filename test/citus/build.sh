#!/usr/bin/env bash
# Build and install Citus, the scale-out tests' dependency, from the vendored
# source tree (../shared/vendor, or OS_CITUS_TARBALL) into the PostgreSQL
# that $PG_CONFIG names.  The build is staged under
# /var/cache/order_system/citus/ (OS_CITUS_CACHE) keyed by the tarball and
# the server version, so a second run only copies files; the cache is never
# required.  Citus is a test dependency: order_system does not link to it.
#
#   test/citus/build.sh          (root: installs build packages too)
#
# Exit status 0 when citus is installed afterwards; 2 when it cannot be
# (the message says what is missing).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

CITUS_VERSION=13.2.2
tarball=${OS_CITUS_TARBALL:-$OS_ROOT/../shared/vendor/citus-$CITUS_VERSION.tar.gz}
libdir=$("$PG_CONFIG" --pkglibdir)
sharedir=$("$PG_CONFIG" --sharedir)

installed() {
	[ -f "$libdir/citus.so" ] && [ -f "$sharedir/extension/citus.control" ] &&
		grep -q "default_version = '${CITUS_VERSION%.*}" "$sharedir/extension/citus.control"
}
missing() { echo "citus: $*" >&2; exit 2; }

installed && exit 0
[ -f "$tarball" ] || missing "no source tarball at $tarball (set OS_CITUS_TARBALL)"
[ "$(id -u)" -eq 0 ] || missing "not installed in $libdir; run test/citus/build.sh as root"

key="$CITUS_VERSION-$(sha256sum "$tarball" | cut -c1-12)-$("$PG_CONFIG" --version | tr -c 'A-Za-z0-9.\n' _)"
cache=${OS_CITUS_CACHE:-/var/cache/order_system/citus}/$key
if [ ! -f "$cache/done" ]; then
	OS_PACKAGES="libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev" os_ensure_packages
	os_log "building Citus $CITUS_VERSION from $tarball (a few minutes, once per machine)"
	work=$(mktemp -d /tmp/order_system_citus.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	tar xzf "$tarball" -C "$work" --strip-components=1
	# PostgreSQL 15.20 declares have_createdb_privilege() itself; Citus 13.2.2's
	# compatibility shim of the same name then fails to compile.
	if grep -q have_createdb_privilege "$("$PG_CONFIG" --includedir-server)/commands/dbcommands.h"; then
		perl -0pi -e 's/static inline bool\s+have_createdb_privilege\(void\)\s*\{.*?\n\}\n//s' \
			"$work/src/include/pg_version_compat.h"
	fi
	(cd "$work" && ./configure PG_CONFIG="$PG_CONFIG" >configure.log 2>&1 &&
		make -j"$(nproc)" -s >make.log 2>&1 &&
		rm -rf "$cache.tmp" && make -s install DESTDIR="$cache.tmp" >install.log 2>&1) ||
		{ tail -40 "$work"/*.log >&2; missing "the build failed (log above)"; }
	touch "$cache.tmp/done"
	rm -rf "$cache" && mv "$cache.tmp" "$cache"
fi
(cd "$cache" && tar cf - usr) | tar xf - -C / --no-same-owner --no-overwrite-dir
installed || missing "installed files not found in $libdir after copying $cache"
os_log "Citus $CITUS_VERSION installed into $libdir"
