# definitions.awk: print the function definitions and comments of the
# current schema files (src/sql/*.sql), in order, for an update script.
#
# A statement starts at a line beginning "CREATE OR REPLACE FUNCTION" or
# "COMMENT ON" and ends at the first line ending in ";" that is outside a
# dollar-quoted body and outside a BEGIN ATOMIC ... END; body.  Writing
# schema files in that layout is the contract this script relies on; the
# upgrade test (test/tap/001_install.pl) compares an updated database with
# a fresh install, so a statement lost here fails it.
function flush_check() {
	if (in_stmt) {
		printf "%s:%d: statement not terminated\n", stmt_file, stmt_line > "/dev/stderr"
		failed = 1
		exit 1
	}
}

FNR == 1 {
	flush_check()
}

!in_stmt && /^(CREATE OR REPLACE FUNCTION|COMMENT ON) / {
	in_stmt = 1
	in_dollar = 0
	in_atomic = 0
	stmt_file = FILENAME
	stmt_line = FNR
	if (/^CREATE/)
		functions++
}

in_stmt {
	print
	line = $0
	# each $$ toggles the dollar-quoted body
	n = gsub(/\$\$/, "", line)
	if (n % 2 == 1)
		in_dollar = !in_dollar
	if (!in_dollar && !in_atomic && $0 ~ /^BEGIN ATOMIC[[:space:]]*$/)
		in_atomic = 1
	else if (in_atomic ? $0 ~ /^END;[[:space:]]*$/ : !in_dollar && $0 ~ /;[[:space:]]*$/)
	{
		in_stmt = 0
		in_atomic = 0
		print ""
	}
}

END {
	if (failed)
		exit 1
	flush_check()
	if (in_stmt)
		exit 1
	if (functions == 0) {
		print "no function definitions found" > "/dev/stderr"
		exit 1
	}
}
