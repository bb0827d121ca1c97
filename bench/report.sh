#!/usr/bin/env bash
# report.sh OUT SECS ROUNDS VIOLATIONS OVERSOLD MISSING: the markdown report
# of a bench run, from OUT/raw.tsv (name clients tps p50 p99 p99.9
# WAL-bytes/tx CPU-us/tx) and the phase files beside it (saga.tsv,
# latency.tsv, history.tsv, waits.tsv, perf-top.txt).  Medians over rounds;
# every figure also as a ratio to baselines of the same run.  Also writes the
# plots sweep.svg and open_loop.svg into OUT.
out=$1 secs=$2 rounds=$3 violations=$4 oversold=$5 missing=$6
raw="$out/raw.tsv"
here=$(dirname "$0")

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
col() { awk -F'\t' -v n="$1" -v c="$2" -v k="$3" '$1 == n && $2 == c { print $k }' "$raw" | median; }
# ratio A B: A / B to two decimals, "-" when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 <= 0) print "-"; else printf "%.2f", a / b }'; }
# change A B: B relative to A in percent, signed.
change() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a + 0 <= 0) print "-"; else printf "%+.0f%%", (b / a - 1) * 100 }'; }
# kv FILE KEY: the value of KEY in a "key<TAB>value" file ("-" if none).
kv() { awk -F'\t' -v k="$2" '$1 == k { v = $2 } END { print (v == "" ? "-" : v) }' "$1" 2>/dev/null || echo -; }
# verdict CONDITION-AWK-EXPRESSION over a and b: "met" / "not met" / "not measured".
verdict() { awk -v a="$2" -v b="${3:-0}" "BEGIN { if (a == \"-\" || b == \"-\") print \"not measured\"; else print (($1) ? \"met\" : \"not met\") }"; }

n1=$(col baseline_N 1 3) n8=$(col baseline_N 8 3) tpcb=$(col baseline_tpcb 8 3) cpu8=$(col baseline_N 8 8)
off=$(col place_order_off 8 3) on=$(col place_order_on 8 3)

# paired A B: per round, A's tps over B's (the k-th run of each, both at 8
# clients, measured next to each other in round k): "median|r1, r2, ...".
# Drift between rounds cancels out of a pair; the targets on delivery use
# these.
paired() {
	local r
	r=$(awk -F'\t' -v a="$1" -v b="$2" '
		$2 == 8 && $1 == a { x[++na] = $3 }
		$2 == 8 && $1 == b { y[++nb] = $3 }
		END { for (i = 1; i <= na && i <= nb; i++) if (y[i] > 0) printf "%.2f\n", x[i] / y[i] }' "$raw")
	[ -n "$r" ] || { echo "-|-"; return; }
	printf '%.2f|%s\n' "$(echo "$r" | median)" "$(echo "$r" | paste -sd, | sed 's/,/, /g')"
}
on_n8=$(paired place_order_on baseline_N_paired) on_off=$(paired place_order_on place_order_off)

row() {	# row LABEL NAME CLIENTS
	local t c
	t=$(col "$2" "$3" 3) c=$(col "$2" "$3" 8)
	[ "$t" = - ] && return
	printf '| %s | %s | %.0f | %s | %s | %s | %s / %s / %s | %s | %s | %s |\n' "$1" "$3" "$t" \
		"$(ratio "$t" "$n8")" "$(ratio "$t" "$n1")" "$(ratio "$t" "$tpcb")" \
		"$(col "$2" "$3" 4)" "$(col "$2" "$3" 5)" "$(col "$2" "$3" 6)" "$(col "$2" "$3" 7)" \
		"$c" "$(ratio "$c" "$cpu8")"
}

main_table() {
	local c p
	echo '| workload | clients | tps | / -N c8 | / -N c1 | / TPC-B c8 | latency p50 / p99 / p99.9 ms | WAL bytes/tx | server CPU us/tx | CPU / -N c8 |'
	echo '|---|---|---|---|---|---|---|---|---|---|'
	row "pgbench -N (baseline)" baseline_N 1
	row "pgbench -N (baseline)" baseline_N 8
	row "pgbench -N, right before delivery on (baseline)" baseline_N_paired 8
	row "TPC-B (baseline)" baseline_tpcb 8
	row "place_order, delivery off" place_order_off 8
	row "place_order, delivery on + listener" place_order_on 8
	row "one hot product" hot_product 8
	row "one hot product, flash sale (16 buckets)" hot_product_flash 8
	row "zipfian catalogue" zipfian 8
	for c in 1 2 4 8 16 32; do row "client sweep" sweep "$c"; done
	row "place_order, delivery on, under perf and the wait sampler" place_order_perf 8
	row "full saga: place_order + gateway + listener" saga 8
	for p in 50 70 90; do row "open loop at $p% of the 8-client rate" "open_loop_$p" 8; done
	row "pgbench -N, synchronous_commit off" baseline_N_async 8
	row "place_order, synchronous_commit off" place_order_async 8
	row "pgbench -N, small history" history_small_N 8
	row "place_order, small history" history_small_on 8
	row "pgbench -N, large history" history_large_N 8
	row "place_order, large history" history_large_on 8
}

saga_section() {
	local f="$out/saga.tsv" t card end during after
	t=$(col saga 8 3) card=$(kv "$f" card_orders) end=$(kv "$f" pending_at_end)
	during=$(awk -v c="$card" -v e="$end" -v s="$secs" 'BEGIN { printf "%.0f", (c - e) / s }')
	after=$(awk -v e="$end" -v d="$(kv "$f" drained_after_s)" 'BEGIN { if (d == "-" || d <= 0) print "-"; else printf "%.0f", e / d }')
	cat <<MD
## The full saga

place_order at 8 clients while \`order_system_gateway\` (--latency-ms 0, --decline-rate 0.1, --seed 1)
settles the card payments from the outbox and \`order_system_listen\` drains: **$(ratio "$t" "$n8")x
pgbench -N c8**, $(ratio "$t" "$on")x place_order with delivery on alone.

| card orders placed | pending when pgbench stopped | drained after | still pending after the wait | paid | declined (share) |
|---|---|---|---|---|---|
| $card | $end | $(kv "$f" drained_after_s) s (waited up to $(kv "$f" wait_limit_s) s) | $(kv "$f" still_pending) | $(kv "$f" paid) | $(kv "$f" declined) ($(ratio "$(kv "$f" declined)" "$card")) |

The gateway settled about $during card payments a second while card orders came in at
$(awk -v c="$card" -v s="$secs" 'BEGIN { printf "%.0f", c / s }') a second, and about $after a second once pgbench had stopped.
MD
}

latency_section() {
	local pct rate n p50 p99 p999 unknown c8
	c8=$(awk -F'\t' '$1 == "sweep" && $2 == 8 { printf "%.0f", $3 }' "$raw")
	cat <<MD
## Commit-to-listener latency (open loop)

A dedicated listener (\`order_system_listen -c bench_latency\`) replaces the drain; a perl filter stamps
each event line with its receive time, and per transaction (first receipt) the latency is receive time -
\`pg_xact_commit_timestamp\` (\`track_commit_timestamp = on\`). The pgbench columns are each order's own
latency from its scheduled start. The rates are shares of the client sweep's rate at 8 clients
(${c8} tps), the clients the open loop runs.

| load | rate tps | transactions | listener p50 / p99 / p99.9 ms | pgbench p50 / p99 / p99.9 ms |
|---|---|---|---|---|
MD
	while IFS=$'\t' read -r pct rate n p50 p99 p999 unknown; do
		printf '| %s%% | %s | %s%s | %s / %s / %s | %s / %s / %s |\n' "$pct" "$rate" "$n" \
			"$([ "${unknown:-0}" -gt 0 ] && echo " ($unknown without a commit timestamp)")" \
			"$p50" "$p99" "$p999" "$(col "open_loop_$pct" 8 4)" "$(col "open_loop_$pct" 8 5)" "$(col "open_loop_$pct" 8 6)"
	done <"$out/latency.tsv"
}

history_section() {
	local p
	cat <<MD
## Cost per order as the history grows

Both points with delivery on, each right after a restart, -N and place_order twice each (medians); the history grows through the API
(\`scripts/grow.sql\`: place and complete, synchronous_commit off), the outbox pruned as the notifier
would, then VACUUM ANALYZE and a checkpoint. CPU per order is also given relative to pgbench -N's
CPU per transaction measured beside it, since a busier machine makes the same work cost more CPU time.

| history | orders before | pgbench -N c8 tps | place_order tps | / -N c8 | -N CPU us/tx | place_order CPU us/tx | CPU / -N's | WAL bytes/tx |
|---|---|---|---|---|---|---|---|---|
MD
	for p in small large; do
		printf '| %s | %s | %.0f | %.0f | %s | %s | %s | %s | %s |\n' "$p" "$(kv "$out/history.tsv" "$p")" \
			"$(col "history_${p}_N" 8 3)" "$(col "history_${p}_on" 8 3)" "$(hist_ratio "$p" 3)" \
			"$(col "history_${p}_N" 8 8)" "$(col "history_${p}_on" 8 8)" "$(hist_ratio "$p" 8)" \
			"$(col "history_${p}_on" 8 7)"
	done
	printf '| change | | | | %s | | %s | %s | %s |\n' "$hist_ratio_change" \
		"$hist_own_cpu_change" "$hist_cpu_change" \
		"$(change "$(col history_small_on 8 7)" "$(col history_large_on 8 7)")"
}

# hist_ratio POINT COLUMN: place_order's figure over pgbench -N's at that point.
hist_ratio() { ratio "$(col "history_${1}_on" 8 "$2")" "$(col "history_${1}_N" 8 "$2")"; }

waits_section() {
	local f="$out/waits.tsv" samples obs
	samples=$(kv "$f" samples)
	obs=$(awk -F'\t' 'NR > 1 { n += $2 } END { print n + 0 }' "$f" 2>/dev/null)
	cat <<MD
## Where the time goes

Wait events of active client backends, sampled from \`pg_stat_activity\` about every 10 ms during the
"place_order, delivery on, under perf and the wait sampler" run: $samples samples, $(ratio "$obs" "$samples") active backends per sample
on average. "CPU" is no wait event (running or runnable).

| wait_event_type:wait_event | share of samples |
|---|---|
$(awk -F'\t' -v n="$obs" 'NR > 1 && NR <= 13 && n > 0 { printf "| %s | %.1f%% |\n", $1, 100 * $2 / n }' "$f" 2>/dev/null)

Server CPU per order during the same run, by process (\`/proc/<pid>/stat\` before and after; the order
sessions end with pgbench, and their time is counted from the postmaster's reaped children):

| process | us per order |
|---|---|
$(awk -F'\t' '{ printf "| %s | %s |\n", $1, $2 }' "$out/proc-cpu.tsv" 2>/dev/null)

perf (\`perf record -F 997 -e cpu-clock -a -g\`, system-wide, so other users of the machine show too)
for 80% of the "under perf" run above: the top 15 by self time (\`perf report --no-children --sort
dso,sym\`; 25 in perf-top.txt):

\`\`\`
$(head -15 "$out/perf-top.txt" 2>/dev/null)
\`\`\`
$(perf_by_command)
MD
}

perf_by_command() {	# (no file when perf did not work)
	[ -s "$out/perf-comm.txt" ] || return 0
	# shellcheck disable=SC2016  # backquotes are markdown here
	printf '\nThe same samples by command (`--sort comm`; swapper is idle time):\n\n```\n'
	cat "$out/perf-comm.txt"
	printf '```\n'
}

plots() {
	local c p
	{
		echo "panel place_order throughput, delivery on|clients|tps|lin"
		echo "x 1 2 4 8 16 32"
		echo "line place_order $(for c in 1 2 4 8 16 32; do printf '%s ' "$(col sweep "$c" 3)"; done)"
		echo "hline pgbench_-N_c8 $n8"
		echo "panel place_order latency|clients|ms|log"
		echo "x 1 2 4 8 16 32"
		echo "line p50 $(for c in 1 2 4 8 16 32; do printf '%s ' "$(col sweep "$c" 4)"; done)"
		echo "line p99 $(for c in 1 2 4 8 16 32; do printf '%s ' "$(col sweep "$c" 5)"; done)"
	} | "$here/plot.pl" >"$out/sweep.svg"
	{
		echo "panel open-loop latency, 8 clients|load (% of the 8-client rate)|ms|log"
		echo "x 50% 70% 90%"
		for c in 4:p50 5:p99 6:p99.9; do
			echo "line pgbench_${c#*:} $(for p in 50 70 90; do printf '%s ' "$(col "open_loop_$p" 8 "${c%%:*}")"; done)"
		done
		for c in 4:p50 5:p99 6:p99.9; do
			echo "line listener_${c#*:} $(for p in 50 70 90; do printf '%s ' "$(awk -F'\t' -v p="$p" -v k="${c%%:*}" '$1 == p { print $k }' "$out/latency.tsv")"; done)"
		done
		echo "hline target_listener_p99 20"
	} | "$here/plot.pl" >"$out/open_loop.svg"
}

targets_section() {
	local flash p99
	flash=$(ratio "$(col hot_product_flash 8 3)" "$on")
	p99=$(awk -F'\t' '$1 == 70 { print $5 }' "$out/latency.tsv")
	cat <<MD
## Targets

| target | measured | verdict |
|---|---|---|
| place_order, delivery on + listener draining >= 0.9x pgbench -N c8 (median of the rounds' adjacent pairs) | ${on_n8%%|*}x (rounds: ${on_n8#*|}) | $(verdict 'a >= 0.9' "${on_n8%%|*}") |
| delivery on >= 0.9x delivery off (median of the rounds' pairs) | ${on_off%%|*}x (rounds: ${on_off#*|}) | $(verdict 'a >= 0.9' "${on_off%%|*}") |
| one hot product, flash sale >= 0.5x distinct products, nothing oversold | ${flash}x, $oversold oversold | $(verdict 'a >= 0.5 && b == 0' "$flash" "$oversold") |
| commit-to-listener p99 <= 20 ms at 70% load | ${p99:--} ms | $(verdict 'a <= 20' "${p99:--}") |
| cost per order flat within 20% from $(kv "$out/history.tsv" small) to $(kv "$out/history.tsv" large) orders (place_order's CPU/tx rises <= 20%, its tps / -N falls <= 20%) | CPU/tx $hist_own_cpu_change (relative to -N's: $hist_cpu_change), tps / -N $hist_ratio_change | $(verdict 'a <= 20 && b >= -20' "${hist_own_cpu_change%\%}" "${hist_ratio_change%\%}") |
| CPU and WAL per order reported, and where the time goes | $(col place_order_on 8 8) us, $(col place_order_on 8 7) bytes per order; wait events: $(kv "$out/waits.tsv" samples) samples; perf: $([ -s "$out/perf-top.txt" ] && grep -q '%' "$out/perf-top.txt" && echo profiled || echo "not available") | $(verdict 'a != "-" && b > 0' "$(col place_order_on 8 8)" "$(kv "$out/waits.tsv" samples)") |
MD
}

hist_cpu_change=$(change "$(hist_ratio small 8)" "$(hist_ratio large 8)")
hist_own_cpu_change=$(change "$(col history_small_on 8 8)" "$(col history_large_on 8 8)")
hist_ratio_change=$(change "$(hist_ratio small 3)" "$(hist_ratio large 3)")
plots

cat <<MD
# order_system benchmark

$rounds round(s) of $secs s per measurement, synchronous_commit on unless noted, pgbench -M prepared
-j 2; tps are medians over rounds where a workload ran in every round. Machine: $(head -1 "$out/machine.txt")
cores. Settings: $(tr '\n' ',' <"$out/settings.txt" | sed 's/,$//; s/,/, /g'). The run took
$(awk '{ printf "%d min %d s", $1 / 60, $1 % 60 }' "$out/duration.txt").

Server CPU is the postmaster's and all its children's user + system time (backends, the notifier,
the listeners' and the sampler's sessions, checkpointer, autovacuum) across the run, per transaction.

$(main_table)

- **Event delivery on vs off: ${on_off%%|*}x**, the median of each round's on / off (rounds: ${on_off#*|});
  the ratio of the medians over rounds is $(ratio "$on" "$off")x (target >= 0.9x).
- **place_order with delivery on vs pgbench -N c8: ${on_n8%%|*}x**, the median of each round's on / the
  -N c8 run right before it (rounds: ${on_n8#*|}); against the medians of the rounds' first -N c8 runs
  $(ratio "$on" "$n8")x (target >= 0.9x).
- **One hot product vs distinct products: $(ratio "$(col hot_product 8 3)" "$on")x as one row,
  $(ratio "$(col hot_product_flash 8 3)" "$on")x in flash-sale mode** (target >= 0.5x).
- Invariant violations after the run: $violations; products oversold: $oversold; orders without events:
  $missing.

Latencies are per transaction from pgbench's logs; under --rate pgbench measures them from each
transaction's scheduled start, so they include any wait behind a stalled server.

Plots: [throughput and latency vs clients](sweep.svg), [open-loop latency](open_loop.svg).

$(saga_section)

$(latency_section)

$(history_section)

$(waits_section)

$(targets_section)
MD
