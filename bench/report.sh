#!/usr/bin/env bash
# report.sh OUT SECS ROUNDS VIOLATIONS OVERSOLD MISSING: the markdown report
# of a bench run from OUT/raw.tsv (name clients tps p50 p99 p99.9 wal/order).
# Medians over rounds; every figure also as a ratio to baselines of the run.
out=$1 secs=$2 rounds=$3 violations=$4 oversold=$5 missing=$6
raw="$out/raw.tsv"

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
col() { awk -F'\t' -v n="$1" -v c="$2" -v k="$3" '$1 == n && $2 == c { print $k }' "$raw" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

n1=$(col baseline_N 1 3) n8=$(col baseline_N 8 3) tpcb=$(col baseline_tpcb 8 3)
off=$(col place_order_off 8 3) on=$(col place_order_on 8 3)

row() {	# row LABEL NAME CLIENTS
	local t
	t=$(col "$2" "$3" 3)
	printf '| %s | %s | %.0f | %s | %s | %s | %s / %s / %s | %s |\n' "$1" "$3" "$t" \
		"$(ratio "$t" "$n8")" "$(ratio "$t" "$n1")" "$(ratio "$t" "$tpcb")" \
		"$(col "$2" "$3" 4)" "$(col "$2" "$3" 5)" "$(col "$2" "$3" 6)" "$(col "$2" "$3" 7)"
}

cat <<MD
# order_system benchmark

$rounds round(s) of $secs s per measurement, synchronous_commit on unless noted, pgbench -M prepared
-j 2; tps are medians over rounds where a workload ran in every round. Machine: $(head -1 "$out/machine.txt")
cores. Settings: $(tr '\n' ',' <"$out/settings.txt" | sed 's/,$//; s/,/, /g').

| workload | clients | tps | / -N c8 | / -N c1 | / TPC-B c8 | latency p50 / p99 / p99.9 ms | WAL bytes/tx |
|---|---|---|---|---|---|---|---|
$(row "pgbench -N (baseline)" baseline_N 1)
$(row "pgbench -N (baseline)" baseline_N 8)
$(row "TPC-B (baseline)" baseline_tpcb 8)
$(row "place_order, delivery off" place_order_off 8)
$(row "place_order, delivery on + listener" place_order_on 8)
$(row "one hot product" hot_product 8)
$(row "one hot product, flash sale (16 buckets)" hot_product_flash 8)
$(row "zipfian catalogue" zipfian 8)
$(for c in 1 2 4 8 16 32; do row "client sweep" sweep "$c"; done)
$(for p in 50 70 90; do row "open loop at $p% of best rate" "open_loop_$p" 8; done)
$(row "pgbench -N, synchronous_commit off" baseline_N_async 8)
$(row "place_order, synchronous_commit off" place_order_async 8)

- **Event delivery on vs off: $(ratio "$on" "$off")x** (target >= 0.9x).
- **place_order with delivery on vs pgbench -N c8: $(ratio "$on" "$n8")x** (target >= 0.9x).
- **One hot product vs distinct products: $(ratio "$(col hot_product 8 3)" "$on")x as one row,
  $(ratio "$(col hot_product_flash 8 3)" "$on")x in flash-sale mode** (target >= 0.5x).
- Invariant violations after the run: $violations; products oversold: $oversold; orders without events:
  $missing.

Latencies are per transaction from pgbench's logs; under --rate pgbench measures them from each
transaction's scheduled start, so they include any wait behind a stalled server.
MD
