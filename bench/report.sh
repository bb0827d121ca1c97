#!/usr/bin/env bash
# report.sh RAW.tsv VIOLATIONS SECS ROUNDS: the markdown report of a bench run.
# Medians over rounds; every figure also as a ratio to baselines of the same run.
raw=$1 violations=$2 secs=$3 rounds=$4
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
get() { awk -F'\t' -v n="$1" -v c="$2" '$1==n && $2==c {print $3}' "$raw" | median; }
n1=$(get baseline_N 1) n8=$(get baseline_N 8) tpcb=$(get baseline_tpcb 8)
off=$(get place_order_off 8) on=$(get place_order_on 8)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
cat <<MD
# order_system benchmark

$rounds round(s) of $secs s per measurement, 8 clients unless noted, synchronous_commit on,
pgbench -M prepared -j 2; medians over rounds. Absolute tps drift between runs on a shared machine:
compare the ratios.

| workload | clients | tps (median) | / pgbench -N c8 | / pgbench -N c1 | / TPC-B c8 |
|---|---|---|---|---|---|
| pgbench -N (baseline) | 1 | $n1 | $(ratio "$n1" "$n8") | 1.00 | $(ratio "$n1" "$tpcb") |
| pgbench -N (baseline) | 8 | $n8 | 1.00 | $(ratio "$n8" "$n1") | $(ratio "$n8" "$tpcb") |
| TPC-B (baseline) | 8 | $tpcb | $(ratio "$tpcb" "$n8") | $(ratio "$tpcb" "$n1") | 1.00 |
| place_order, delivery off | 8 | $off | $(ratio "$off" "$n8") | $(ratio "$off" "$n1") | $(ratio "$off" "$tpcb") |
| place_order, delivery on + listener | 8 | $on | $(ratio "$on" "$n8") | $(ratio "$on" "$n1") | $(ratio "$on" "$tpcb") |

**Event delivery on vs off: $(ratio "$on" "$off")x** (target >= 0.9x).

Invariant violations after the run: $violations.
MD
