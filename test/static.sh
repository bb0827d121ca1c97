#!/usr/bin/env bash
# Static analysis of our C code: cppcheck and clang-tidy (checks in
# .clang-tidy) over src/ (all areas), listener/ and test/core/.  Any finding
# fails (exit 1).  A false positive gets a narrow inline suppression with a
# reason: "cppcheck-suppress <id>" or "NOLINT(<check>)".
#
#   test/static.sh          (as root it installs cppcheck and clang-tidy)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$OS_ROOT"

OS_PACKAGES="cppcheck clang-tidy postgresql-server-dev-15 libpq-dev"
os_ensure_packages

SERVER_INC=$("$PG_CONFIG" --includedir-server)
CLIENT_INC=$("$PG_CONFIG" --includedir)
failed=0

# cppcheck: the warning, portability and performance classes (style is
# taste).  The server headers are read for their macros (PG_FUNCTION_INFO_V1,
# ereport, ...) but their #ifdef variants are not explored (--config-exclude,
# minutes instead of seconds) and findings inside them are not ours.
os_log "cppcheck"
cppcheck --quiet --error-exitcode=1 --inline-suppr --language=c --std=c11 \
	--enable=warning,portability,performance \
	-I src -I src/core -I listener -I "$SERVER_INC" -I "$CLIENT_INC" \
	--config-exclude="$CLIENT_INC" --suppress="*:$CLIENT_INC/*" \
	--suppress=missingIncludeSystem \
	--template='{file}:{line}: {severity}: {message} [{id}]' \
	src/*.c src/*/*.c listener/*.c test/core/*.c || failed=1

# clang-tidy: each file with the include paths its own Makefile uses.  The
# PostgreSQL headers are system headers: their own warnings are not shown,
# only analyzer paths that start in our code.
tidy() {
	clang-tidy --quiet "$1" -- "${@:2}" 2>&1 |
		grep -vE '^[0-9]+ (warnings?|errors?)( and [0-9]+ errors?)? generated\.$'
	return "${PIPESTATUS[0]}"
}
os_log "clang-tidy"
for f in src/*.c src/*/*.c; do
	tidy "$f" -I src -I src/core -isystem "$SERVER_INC" -isystem "$CLIENT_INC" || failed=1
done
for f in listener/*.c; do
	tidy "$f" -I listener -isystem "$CLIENT_INC" || failed=1
done
tidy test/core/test_core.c -std=c11 -I src/core || failed=1

# The layering rules the compiler does not check: every SQL-callable
# function is defined through the door (OS_FUNCTION in order_system.h), and
# only src/store/ touches the extension's tables (kept SPI statements or
# plan-free rows).
os_log "layering"
if grep -n 'PG_FUNCTION_INFO_V1' src/*.c src/*/*.c; then
	echo "define SQL-callable functions with OS_FUNCTION, not PG_FUNCTION_INFO_V1" >&2
	failed=1
fi
if grep -nE '\b(os_exec|os_exec_to|OS_STMT|OS_STMT_GENERIC|os_rows_[a-z_]+|SPI_(connect|finish|execute[a-z_]*|prepare[a-z_]*|cursor_[a-z_]+))\b' \
	src/*.c src/api/*.c src/core/*.c; then
	echo "only src/store/ reads or writes tables: call a store operation (src/store/store.h)" >&2
	failed=1
fi

[ $failed -eq 0 ] && echo "static analysis: no findings" >&2
exit $failed
