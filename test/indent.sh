#!/usr/bin/env bash
# Check that our C files are laid out as PostgreSQL's pgindent lays them out:
# pg_bsd_indent with pgindent's flags and a typedef list, then pgindent's
# fix-up of "char *" return types.  Fails, showing the diff, if any file
# would change; --write rewrites the files instead.
#
#   test/indent.sh [--write]    (as root it installs pg-bsd-indent)
#
# The typedef names come from the headers each directory is built against
# (the server's for src/ and test/matrix/, libpq's for listener/, the core's
# for test/core/) and from our own sources; a name from elsewhere would
# mis-space a variable of that name (listener code has "char text[64]", and
# text is a server type).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$OS_ROOT"

OS_PACKAGES="pg-bsd-indent postgresql-server-dev-15 libpq-dev"
os_ensure_packages
write=false
[ "${1:-}" = --write ] && write=true

FLAGS="-bad -bap -bbb -bc -bl -cli1 -cp33 -cdb -nce -d0 -di12 -nfc1 -i4 -l79 -lp -lpl
	-nip -npro -sac -tpg -ts4"
LIBC_TYPES="FILE size_t ssize_t int32_t int64_t uint64_t pid_t sig_atomic_t va_list"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# typedefs LIST DIR...: the names typedef'd in the .h/.c files under DIRs.
typedefs() {
	local list=$1; shift
	{
		printf '%s\n' $LIBC_TYPES
		find "$@" -name '*.[ch]' -print0 | xargs -0 cat | perl -0777 -ne '
			s{/\*.*?\*/}{ }gs;
			while (/\btypedef\b((?:[^;{}]|(\{(?:[^{}]|(?2))*\}))*);/g) {
				my $t = $1;
				1 while $t =~ s/\{[^{}]*\}/ /g;
				print "$1\n" if $t =~ /\(\s*\*\s*(\w+)\s*\)/ || $t =~ /(\w+)\s*(?:\[[^\]]*\]\s*)*$/;
			}'
	} | sort -u >"$list"
}
typedefs "$tmp/src.list" "$("$PG_CONFIG" --includedir-server)" src
client=$("$PG_CONFIG" --includedir)
typedefs "$tmp/listener.list" "$client"/*.h listener
typedefs "$tmp/core.list" src/core test/core

failed=0
check() {
	local list=$1 f out; shift
	for f in "$@"; do
		out="$tmp/out.c"
		# shellcheck disable=SC2086
		if ! pg_bsd_indent $FLAGS -U"$list" "$f" "$out" || [ ! -s "$out" ]; then
			echo "pg_bsd_indent failed on $f" >&2; failed=1; continue
		fi
		perl -pi -e 's/^([A-Za-z_]\S*)[ \t]+\*$/$1 */' "$out"
		cmp -s "$f" "$out" && continue
		if $write; then
			cat "$out" >"$f" && echo "reindented $f" >&2
		else
			diff -u "$f" "$out" | sed "2s|$out|$f (pgindent)|"; failed=1
		fi
	done
}
check "$tmp/src.list" src/*.[ch] src/*/*.[ch] test/matrix/*.c
check "$tmp/listener.list" listener/*.[ch]
check "$tmp/core.list" test/core/*.c

[ $failed -eq 0 ] && echo "indent: every file is laid out as pgindent would" >&2
exit $failed
