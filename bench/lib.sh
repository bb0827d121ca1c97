# Helpers of bench/run: one measurement (pgbench plus server CPU and WAL),
# the helper processes that run beside a measurement (listeners, the
# gateway, a wait-event sampler, perf) and the history growth.  Source after
# test/lib.sh, with $out (the results directory), $secs, $members,
# $products, $OS_CLUSTER and PGDATABASE set.
# shellcheck shell=bash disable=SC2154  # (those variables come from bench/run)

q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }	# one value (or rows) of SQL

# bench_settings: the server settings every bench cluster runs with
# (appended to postgresql.conf by bench/run and bench/delivery).
bench_settings() {
	cat <<CONF
fsync = on
synchronous_commit = on
shared_buffers = 512MB
max_connections = 100
track_commit_timestamp = on
order_system.notify_database = 'bench'
# A few thousand members place thousands of orders a minute here: the
# per-member rate limit keeps running (its cost is measured) but never refuses.
order_system.order_rate_limit = 1000000
order_system.order_burst = 1000000
CONF
}

now() { date +%s.%N; }

# poll SECS SQL: repeat SQL every 0.1 s until it returns "t"; false on timeout.
poll() {
	local deadline
	deadline=$(awk -v t="$(now)" -v s="$1" 'BEGIN { printf "%.1f", t + s }')
	until [ "$(q "$2")" = t ]; do
		awk -v t="$(now)" -v d="$deadline" 'BEGIN { exit !(t > d) }' && return 1
		sleep 0.1
	done
}

# consumer_drained NAME SECS: wait until consumer NAME has acknowledged every event.
consumer_drained() {
	poll "$2" "SELECT coalesce(bool_and(pending_events = 0), false)
		FROM order_system.consumer_status() WHERE name = '$1'"
}

restart() {	# restart [preload]: with or without the notifier worker
	local conf="$OS_CLUSTER/data/postgresql.conf"
	sed -i '/^shared_preload_libraries/d' "$conf"
	[ "${1:-}" = preload ] && echo "shared_preload_libraries = 'order_system'" >>"$conf"
	os_as_owner pg_ctl -D "$OS_CLUSTER/data" -l "$OS_CLUSTER/server.log" -w -m fast restart >/dev/null ||
		os_die "the server did not restart"
}

# Server CPU time so far, in microseconds: the postmaster's own time and
# that of the children it reaped (utime stime cutime cstime), plus the time
# of its live children.  A backend that exits between two readings is
# counted either way: live in the first, through cutime/cstime in the second.
server_cpu_us() {
	perl -e '
		my ($pm, $hz) = @ARGV;
		my $ticks = 0;
		for my $file (glob "/proc/[0-9]*/stat") {
			open(my $fh, "<", $file) or next;	# exited meanwhile
			my $stat = <$fh>;
			next unless defined $stat;
			my ($pid) = $stat =~ /^(\d+)/;
			$stat =~ s/^.*\) //s;		# the command name may hold spaces
			my @f = split / /, $stat;	# $f[0] is field 3 of proc(5)
			if ($pid == $pm) { $ticks += $f[11] + $f[12] + $f[13] + $f[14] }
			elsif ($f[1] == $pm) { $ticks += $f[11] + $f[12] }
		}
		printf "%.0f\n", $ticks * 1e6 / $hz;
	' "$(head -1 "$OS_CLUSTER/data/postmaster.pid")" "$(getconf CLK_TCK)"
}

# proc_cpu: server CPU so far by process, "class<TAB>microseconds" lines:
# the drain listener's backend, the notifier, walwriter, checkpointer,
# background writer, and all other backends, live or reaped by the
# postmaster (the order sessions, which end with their pgbench run, the
# wait sampler's, autovacuum workers); plus the drain's own client program
# (not server time).
proc_cpu() {
	local lpid
	lpid=$(q "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = 'order_system_listen'")
	perl -e '
		my ($pm, $lpid, $cpid, $hz) = @ARGV;
		my %t;
		for my $file (glob "/proc/[0-9]*/stat") {
			open(my $fh, "<", $file) or next;
			my $stat = <$fh>;
			next unless defined $stat;
			my ($pid) = $stat =~ /^(\d+)/;
			$stat =~ s/^.*\) //s;
			my @f = split / /, $stat;
			my $own = $f[11] + $f[12];
			my $rest = "other backends: order sessions, sampler, autovacuum";
			if ($pid == $pm) { $t{$rest} += $f[13] + $f[14]; $t{postmaster} += $own; next }
			if ($cpid && $pid == $cpid) { $t{"drain client program (not server)"} += $own; next }
			next unless $f[1] == $pm;
			my $class = $rest;
			if ($pid == $lpid) { $class = "drain listener backend" }
			elsif (open(my $c, "<", "/proc/$pid/cmdline")) {
				my $cmd = <$c> // "";
				$class = $1 if $cmd =~ /^postgres: (order_system notifier|walwriter|checkpointer|background writer)/;
			}
			$t{$class} += $own;
		}
		printf "%s\t%.0f\n", $_, $t{$_} * 1e6 / $hz for sort keys %t;
	' "$(head -1 "$OS_CLUSTER/data/postmaster.pid")" "$lpid" "${drain_pid:-0}" "$(getconf CLK_TCK)"
}

# proc_cpu_diff BEFORE AFTER TRANSACTIONS: "class<TAB>us per transaction".
proc_cpu_diff() {
	awk -F'\t' -v n="$3" 'FNR == NR { a[$1] = $2; next }
		{ printf "%s\t%.1f\n", $1, ($2 - a[$1]) / (n > 0 ? n : 1) }' "$1" "$2"
}

# settle: start a measurement from the same state as every other: the
# tables vacuumed and analysed, a checkpoint, and the kernel's dirty pages
# written out.  Otherwise a run pays for the writes of the runs before it:
# its WAL flushes queue behind their data pages' writeback (the run right
# after a restart, whose shutdown checkpoint wrote everything, came out up
# to a fifth faster than the same workload earlier in its round), and
# autovacuum works off the previous run's inserts during it (in each round
# the delivery-on run came right after the delivery-off run's 200k orders,
# and the order tables' insert-driven vacuums landed in it).
settle() {
	q "VACUUM (ANALYZE)" && q "CHECKPOINT" && sync
}

# fresh_outbox: prune every event so far and vacuum the outbox, so that
# both runs of a delivery on/off pair start from the same empty table.
# Without it the delivery-off run left its whole backlog (no consumer, so
# nothing was pruned), and the notifier's first prune after the drain
# registered deleted all of it while the pair's -N ran, leaving the
# delivery-on run the dead rows and autovacuum.  A consumer registered now
# has acknowledged every committed event: prune_outbox() deletes them.
fresh_outbox() {
	q "SELECT order_system.register_consumer('bench_reset')" >/dev/null &&
		q "SELECT order_system.prune_outbox()" >/dev/null &&
		q "SELECT order_system.unregister_consumer('bench_reset')" >/dev/null &&
		q "VACUUM order_system.outbox" || os_die "could not empty the outbox"
}

# measure NAME CLIENTS PGBENCH-ARGS...: one pgbench run of $secs seconds,
# after settle; appends to raw.tsv: name clients tps p50 p99 p99.9 (ms, from
# the per-transaction log) WAL-bytes/tx server-CPU-us/tx.
measure() {
	local name=$1 clients=$2; shift 2
	local log="$out/$name-c$clients.log" dir="$out/txlog-$name-c$clients" tps n lat wal0 wal1 cpu0 cpu1
	mkdir -p "$dir"
	settle
	wal0=$(q "SELECT pg_current_wal_lsn()")
	cpu0=$(server_cpu_us)
	(cd "$dir" && pgbench -n -M prepared -j 2 -c "$clients" -T "$secs" -l "$@" bench) >"$log" 2>&1 ||
		{ cat "$log" >&2; os_die "pgbench failed: $name"; }
	cpu1=$(server_cpu_us)
	wal1=$(q "SELECT pg_current_wal_lsn()")
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log")
	n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
	lat=$(cat "$dir"/pgbench_log.* | percentiles)
	rm -rf "$dir"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$clients" "$tps" "$lat" \
		"$(q "SELECT round(pg_wal_lsn_diff('$wal1', '$wal0') / greatest($n, 1))")" \
		"$(awk -v c=$((cpu1 - cpu0)) -v n="$n" 'BEGIN { printf "%.0f", c / (n > 0 ? n : 1) }')" \
		| tr ' ' '\t' >>"$out/raw.tsv"
}

# Per-transaction log lines -> "p50 p99 p99.9" in ms.  Under --rate pgbench
# logs the latency from each transaction's scheduled start, so a stalled
# server shows up instead of being hidden (no coordinated omission).
percentiles() {
	awk '{ print $3 / 1000.0 }' | sort -g |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "- - -"; exit }
			printf "%.2f %.2f %.2f\n", v[int(NR * 0.50) + 1], v[int(NR * 0.99) + 1], v[int(NR * 0.999) + 1] }'
}

vars=(-D "members=$members" -D "products=$products")
order_workload() { measure "$1" "$2" "${vars[@]}" -f "$OS_ROOT/bench/scripts/$3.sql" "${@:4}"; }

# ---------------------------------------------------------------- helper processes

# A listener draining the outbox as events commit (delivery on).
drain_pid=""
start_drain() {
	order_system_listen -c bench_drain --create --quiet >/dev/null 2>>"$out/listener.log" &
	drain_pid=$!
	poll 10 "SELECT count(*) = 1 FROM order_system.consumer WHERE name = 'bench_drain'" ||
		os_die "the listener did not start (see $out/listener.log)"
}
stop_drain() {
	[ -n "$drain_pid" ] || return 0
	kill "$drain_pid" 2>/dev/null; wait "$drain_pid" 2>/dev/null; drain_pid=""
	q "SELECT order_system.unregister_consumer('bench_drain')" >/dev/null
}

# The wait event of every active client backend (NULL: on CPU), about every
# 10 ms; each sample ends with a "#" line.
sampler_pid=""
start_wait_sampler() {	# start_wait_sampler FILE
	printf '%s\n\\watch 0.01\n' "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU')
		FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend'
		AND pid <> pg_backend_pid() UNION ALL SELECT '#'" | psql -X -A -t -q >"$1" 2>>"$out/sampler.log" &
	sampler_pid=$!
}
stop_wait_sampler() {	# SIGINT ends \watch; psql then reads EOF and exits
	[ -n "$sampler_pid" ] || return 0
	kill -INT "$sampler_pid" 2>/dev/null; wait "$sampler_pid" 2>/dev/null; sampler_pid=""
}

# summarise_waits RAW: "samples N", then "EVENT<TAB>COUNT" lines (count of
# backends seen in that wait), most frequent first.
summarise_waits() {
	printf 'samples\t%s\n' "$(grep -c '^#$' "$1")"
	grep -v -e '^#$' -e '^$' "$1" | sort | uniq -c | sort -k1,1nr | awk '{ print $2 "\t" $1 }'
}

# perf: a system-wide cpu-clock profile while a measurement runs.
perf_ok() {
	command -v perf >/dev/null &&
		perf record -q -e cpu-clock -a -g -o "$OS_CLUSTER/perf-check.data" -- sleep 1 >/dev/null 2>&1
}
perf_pid=""
start_perf() {	# from 10% into the run for 80% of it
	(sleep "$(awk -v s="$secs" 'BEGIN { print s / 10 }')"
	 exec perf record -q -F 997 -e cpu-clock -a -g -o "$OS_CLUSTER/perf.data" -- \
		sleep "$(awk -v s="$secs" 'BEGIN { print s * 0.8 }')") >/dev/null 2>>"$out/perf.log" &
	perf_pid=$!
}
finish_perf() {	# the top 25 symbols by self time (perf-top.txt), the top commands (perf-comm.txt)
	wait "$perf_pid"; perf_pid=""
	perf_top --sort dso,sym | head -25 >"$out/perf-top.txt"
	perf_top --sort comm | head -8 >"$out/perf-comm.txt"
}
perf_top() { perf report -i "$OS_CLUSTER/perf.data" --no-children -g none --stdio "$@" 2>>"$out/perf.log" |
	grep -v -e '^#' -e '^[[:space:]]*$'; }

# The payment gateway simulator settling card payments from the outbox.
gateway_pid=""
start_gateway() {
	order_system_gateway -c payment-gateway --create --latency-ms 0 --decline-rate 0.1 --seed 1 \
		--quiet >/dev/null 2>>"$out/gateway.log" &
	gateway_pid=$!
	poll 10 "SELECT count(*) = 1 FROM order_system.consumer WHERE name = 'payment-gateway'" ||
		os_die "the gateway did not start (see $out/gateway.log)"
}
stop_gateway() {
	[ -n "$gateway_pid" ] || return 0
	kill "$gateway_pid" 2>/dev/null; wait "$gateway_pid" 2>/dev/null; gateway_pid=""
	q "SELECT order_system.unregister_consumer('payment-gateway')" >/dev/null
}

# A dedicated listener whose every event line is stamped with the time it
# arrived (epoch seconds, microseconds) by a perl filter: "time<TAB>tx_id".
latency_pid="" stamp_pid=""
start_latency_listener() {	# start_latency_listener FILE
	local fifo="$OS_CLUSTER/latency.fifo"
	rm -f "$fifo"; mkfifo "$fifo"
	perl -MTime::HiRes=time -ne 'printf "%.6f\t%s\n", time, $1 if /"tx_id":"?(\d+)/' <"$fifo" >"$1" &
	stamp_pid=$!
	order_system_listen -c bench_latency --create --quiet >"$fifo" 2>>"$out/listener.log" &
	latency_pid=$!
	poll 10 "SELECT count(*) = 1 FROM order_system.consumer WHERE name = 'bench_latency'" ||
		os_die "the latency listener did not start (see $out/listener.log)"
}
stop_latency_listener() {
	[ -n "$latency_pid" ] || return 0
	kill "$latency_pid" 2>/dev/null; wait "$latency_pid" 2>/dev/null
	wait "$stamp_pid" 2>/dev/null	# it ends at the end of its input
	latency_pid="" stamp_pid=""
	q "SELECT order_system.unregister_consumer('bench_latency')" >/dev/null
	rm -f "$OS_CLUSTER/latency.fifo"
}

# commit_latency FILE: "transactions p50 p99 p99.9 unknown" of receive time -
# commit time (ms) over the transactions in FILE, first receipt of each;
# "unknown" counts those without a commit timestamp.
commit_latency() {
	psql -X -A -t -q -F ' ' -v ON_ERROR_STOP=1 <<SQL
CREATE TEMP TABLE receipt (received numeric, tx_id xid8);
\\copy receipt FROM '$1'
SELECT count(ms), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
	round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2),
	round(percentile_cont(0.999) WITHIN GROUP (ORDER BY ms)::numeric, 2), count(*) - count(ms)
FROM (SELECT (min(received) - extract(epoch FROM pg_xact_commit_timestamp(tx_id::text::xid))) * 1000 AS ms
	FROM receipt GROUP BY tx_id) l;
SQL
}

stop_helpers() { stop_wait_sampler; stop_latency_listener; stop_gateway; stop_drain; }

# ---------------------------------------------------------------- history

orders() { q "SELECT count(*) FROM order_system.orders"; }

# grow_history ORDERS: place and complete points-paid orders through the API
# (grow.sql, synchronous_commit off, $grow_workers clients) until at least
# ORDERS exist ("+N": N more than now).  A listener must be draining: after
# each chunk and at the end the outbox is pruned of what it acknowledged, as
# the notifier would.  Ends with VACUUM ANALYZE and a checkpoint, so the next
# measurement starts clean.
grow_workers=2 grow_batch=100 grow_chunk=100000
grow_history() {
	local target=$1 have n tx
	have=$(orders)
	[ "${target#+}" != "$target" ] && target=$((have + ${target#+}))
	[ $((members % grow_workers + products % grow_workers)) -eq 0 ] ||
		os_die "members and products must be multiples of $grow_workers"
	while [ "$have" -lt "$target" ]; do
		n=$((target - have < grow_chunk ? target - have : grow_chunk))
		tx=$(((n + grow_workers * grow_batch - 1) / (grow_workers * grow_batch)))
		PGOPTIONS='-c synchronous_commit=off' pgbench -n -c $grow_workers -j $grow_workers -t $tx \
			"${vars[@]}" -D workers=$grow_workers -D batch=$grow_batch \
			-f "$OS_ROOT/bench/scripts/grow.sql" bench >>"$out/grow.log" 2>&1 ||
			{ tail "$out/grow.log" >&2; os_die "growing the history failed"; }
		prune_drained
		have=$(orders)
	done
	prune_drained
	q "VACUUM ANALYZE" && q "CHECKPOINT"
}

prune_drained() {	# once the drain has caught up, prune what it acknowledged
	consumer_drained bench_drain 120 || os_die "the listener fell behind while the history grew"
	q "SELECT order_system.prune_outbox()" >/dev/null
}
