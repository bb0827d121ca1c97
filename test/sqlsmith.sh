#!/usr/bin/env bash
# sqlsmith.sh: random SQL (sqlsmith) against a database running order_system,
# as the roles an application, a payment gateway and an operator log in
# with, and as a member's own login role; afterwards the server must not have crashed, no statement touching
# order_system may have raised an internal error (class XX or 58), the
# domain invariants must hold and the heap and indexes must be intact
# (pg_amcheck).
#
#   test/sqlsmith.sh                 CI size: seed 1, 600 queries per role (< 60 s)
#   test/sqlsmith.sh 5000            5000 queries per role
#   test/sqlsmith.sh 5000 42         ... with seeds 42 to 45 for the four roles
#
# Environment: OS_SMITH_DIR (default tmp_check/sqlsmith), OS_SMITH_PORT
# (54332), OS_SMITH_ROLES (default "app gateway admin member"), OS_SMITH_KEEP=1 keeps
# the cluster running afterwards.  As root it installs Debian's sqlsmith.
# Generated queries, sqlsmith's error summary and the server log stay in the
# directory; the summary names any statement that failed a check.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$OS_ROOT"

queries=${1:-600}
seed=${2:-1}
dir=${OS_SMITH_DIR:-$OS_ROOT/tmp_check/sqlsmith}
port=${OS_SMITH_PORT:-54332}
roles=${OS_SMITH_ROLES:-app gateway admin member}
db=order_system_smith
[[ $queries =~ ^[0-9]+$ && $seed =~ ^[0-9]+$ ]] || os_die "usage: $0 [queries per role] [seed]"

if ! command -v sqlsmith >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		os_log "installing sqlsmith"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sqlsmith >/dev/null ||
			{ apt-get update -q >/dev/null &&
			  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sqlsmith >/dev/null; } ||
			os_die "could not install sqlsmith"
	else
		os_die "sqlsmith is missing: sudo apt-get install sqlsmith"
	fi
fi

os_start_cluster "$dir" "$port"
[ "${OS_SMITH_KEEP:-}" = 1 ] || trap 'os_stop_cluster quiet' EXIT
dir=$OS_CLUSTER
log=$dir/server.log
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }

os_log "creating $db with members, products and orders in every state"
psql -c "CREATE DATABASE $db" && psql -d "$db" >/dev/null <<'SQL' || os_die "setting up $db failed"
CREATE EXTENSION order_system;
SELECT order_system.create_member('Smith ' || i, 'smith' || i || '@example.com', 100000)
  FROM generate_series(1, 5) i;
SELECT order_system.create_product('SM-' || i, 'Product ' || i, 100 * i, 'KRW', 1000)
  FROM generate_series(1, 5) i;
SELECT order_system.create_product('SM-USD', 'Dollar product', 5, 'USD', 10);
-- two orders of each method per member; then move them into every state
SELECT order_system.place_order(m, format('[{"product_id": %s, "quantity": %s}]', 1 + m % 5, 1 + m % 3)::jsonb,
		method, NULL, CASE method WHEN 'points_card' THEN '{"points": 50}'::jsonb END)
  FROM generate_series(1::bigint, 5) m, unnest('{card,points,bank_transfer,points_card,card,card}'::text[]) method;
SELECT order_system.confirm_payment(id, 'gw-' || id) FROM order_system.orders
 WHERE payment_method = 'card' AND id % 6 = 1;
SELECT order_system.complete_order(id) FROM order_system.orders WHERE status = 'paid' AND id % 4 = 0;
SELECT order_system.refund_order(id, 'smith') FROM order_system.orders WHERE status = 'paid' AND id % 4 = 1;
SELECT order_system.decline_payment(id, 'smith') FROM order_system.orders
 WHERE status = 'pending_payment' AND payment_method = 'points_card' AND id % 2 = 0;
SELECT order_system.cancel_order(id, 'smith') FROM order_system.orders
 WHERE status = 'pending_payment' AND payment_method = 'card' AND id % 6 = 5;
UPDATE order_system.payment SET expires_at = now() - interval '1 s'
 WHERE order_id IN (SELECT id FROM order_system.orders WHERE status = 'pending_payment' ORDER BY id DESC LIMIT 3);
SELECT order_system.expire_orders();
SELECT order_system.confirm_deposit(p.reference, p.amount) FROM order_system.payment p
 WHERE p.method = 'bank_transfer' AND p.status = 'pending' AND p.order_id % 2 = 0;
SELECT order_system.deactivate_member(5), order_system.deactivate_product(5);
SELECT order_system.register_consumer('smith', true), order_system.register_consumer('smith-late');

-- Login roles for the fuzzer, and read-only views of the data so that its
-- queries pass real ids, references and names to the functions.
DO $$
DECLARE r text;
BEGIN
	FOREACH r IN ARRAY '{app,gateway,admin}'::text[] LOOP
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'smith_' || r) THEN
			EXECUTE format('CREATE ROLE %I LOGIN', 'smith_' || r);
		END IF;
		EXECUTE format('GRANT %I TO %I', 'order_system_' || r, 'smith_' || r);
	END LOOP;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'smith_member') THEN
		CREATE ROLE smith_member LOGIN;
	END IF;
	PERFORM order_system.set_member_login('smith_member', 1);
END $$;
CREATE SCHEMA smith;
CREATE VIEW smith.members AS SELECT id, name, email, active, points_balance FROM order_system.member;
CREATE VIEW smith.products AS SELECT id, sku, name, price, currency, stock_available FROM order_system.product;
CREATE VIEW smith.orders AS SELECT id, member_id, status, total_amount, payment_method, idempotency_key
  FROM order_system.orders;
CREATE VIEW smith.payments AS SELECT order_id, method, amount, status, reference FROM order_system.payment;
CREATE VIEW smith.consumers AS SELECT name, batch_id FROM order_system.consumer;
CREATE VIEW smith.events AS SELECT id, event_type, aggregate_id, payload FROM order_system.outbox;
GRANT USAGE ON SCHEMA smith TO smith_app, smith_gateway, smith_admin, smith_member;
GRANT SELECT ON ALL TABLES IN SCHEMA smith TO smith_app, smith_gateway, smith_admin, smith_member;
SQL
psql -d "$db" -Atc "SELECT status, count(*) FROM order_system.orders GROUP BY 1 ORDER BY 1" | tr '\n' ' '
echo

# Errors go to the log with their SQLSTATE, source location and statement;
# the library is preloaded so that the notifier and its commit hook run too.
printf "%s\n" "log_error_verbosity = verbose" "log_min_error_statement = error" \
	"shared_preload_libraries = 'order_system'" "order_system.notify_database = '$db'" |
	os_as_owner tee -a "$dir/data/postgresql.conf" >/dev/null &&
	os_as_owner pg_ctl -D "$dir/data" -l "$log" -w -t 60 restart >/dev/null ||
	os_die "could not configure and restart the server"

for _ in $(seq 30); do
	running=$(psql -d "$db" -Atc "SELECT running FROM order_system.notifier_status()")
	[ "$running" = t ] && break
	sleep 0.5
done
echo "notifier running: $running"

log_start=$(wc -l <"$log")
failed=0
i=0
for r in $roles; do
	# a seed per role: the same seed over the same schema repeats the same queries
	rseed=$((seed + i)) i=$((i + 1))
	os_log "sqlsmith as smith_$r: $queries queries, seed $rseed"
	start=$SECONDS
	# statement_timeout is 1 s per query, but a query may change it: bound the run.
	timeout --kill-after=10 $((120 + queries / 5)) sqlsmith --seed="$rseed" --max-queries="$queries" --verbose \
		--target="host=$PGHOST port=$PGPORT dbname=$db user=smith_$r" --dump-all-queries \
		>"$dir/queries_$r.sql" 2>"$dir/sqlsmith_$r.log"
	rc=$?
	printf '%s in %ss, exit %s, %s\n' "$(grep -a 'queries:' "$dir/sqlsmith_$r.log" | tail -1)" \
		$((SECONDS - start)) "$rc" "$(grep -a 'error rate' "$dir/sqlsmith_$r.log" | tail -1)"
	if [ $rc -ne 0 ]; then
		echo "FAILED: sqlsmith as smith_$r exited $rc (124: did not finish in time); last query:"
		awk 'BEGIN { RS = "\n;\n" } { q = $0 } END { print q }' "$dir/queries_$r.sql" | head -40
		psql -d "$db" -c "SELECT pid, usename, state, now() - query_start AS running, left(query, 300)
							FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()"
		failed=1
	fi
done

os_log "checking the server log"
tail -n +"$((log_start + 1))" "$log" >"$dir/run.log"
if grep -aE '(PANIC|TRAP):  |TRAP: failed Assert|server process .* (was terminated|exited with exit code [^0])|terminating any other active server processes|database system was interrupted' \
		"$dir/run.log"; then
	echo "FAILED: the server crashed or hit an assertion; see $dir/run.log"
	failed=1
fi
# Internal errors (class XX or 58), with location and statement from the
# verbose log.  Ours if raised in one of our source files; PostgreSQL's own
# (reachable by any role through pg_catalog functions) are shown, not failed.
ours=$(cd src && ls *.c core/*.c | sed 's#.*/##; s#\.c$##' | paste -sd'|')
awk -v ours="^(${ours})[.]c:" '
	function flush() { if (rec != "") { print (mine ? "ours" : "core") rec; rec = "" } }
	/ERROR:  (XX|58)[0-9A-Z][0-9A-Z][0-9A-Z]:/ { flush(); grab = 1; n = 0; mine = 0; rec = "\n" $0; next }
	grab && /LOCATION:/ { f = $0; sub(/.*, /, "", f); if (f ~ ours) mine = 1 }
	grab && (/^\t/ || /LOCATION:|STATEMENT:/) { if (n++ < 60) rec = rec "\n" $0; next }
	grab { grab = 0; flush() }
	END { flush() }' "$dir/run.log" >"$dir/internal_errors.txt"
if grep -q '^ours' "$dir/internal_errors.txt"; then
	echo "FAILED: internal errors raised by order_system:"
	failed=1
fi
if [ -s "$dir/internal_errors.txt" ]; then
	echo "internal errors (ours: a bug here; core: PostgreSQL's, for upstream):"
	grep -A3 -E '^(ours|core)$' "$dir/internal_errors.txt" | cut -c1-300 | head -100
fi
printf 'errors by SQLSTATE: %s\n' "$(grep -aoE 'ERROR:  [0-9A-Z]{5}:' "$dir/run.log" | cut -c9-13 |
	sort | uniq -c | sort -rn | awk '{ printf "%s x%s, ", $2, $1 }')"
printf 'order_system calls generated: %s\n' "$(cat "$dir"/queries_*.sql | grep -oE 'order_system\.[a-z_]+\(' |
	sort | uniq -c | sort -rn | awk '{ printf "%s %s, ", substr($2, 14, length($2) - 14), $1 }')"

os_log "check_invariants()"
bad=$(psql -d "$db" -Atc "SELECT count(*) FROM order_system.check_invariants()") || bad=error
if [ "$bad" != 0 ]; then
	echo "FAILED: check_invariants() reports $bad"
	psql -d "$db" -c "SELECT * FROM order_system.check_invariants()"
	failed=1
else
	echo "no violations"
fi

os_log "pg_amcheck"
if pg_amcheck --install-missing --heapallindexed --parent-check -d "$db" -d postgres; then
	echo "heap and indexes intact"
else
	echo "FAILED: pg_amcheck"
	failed=1
fi

echo
if [ $failed -eq 0 ]; then echo "sqlsmith: passed"; else echo "sqlsmith: FAILED (files in $dir)"; fi
exit $failed
