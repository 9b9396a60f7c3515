#!/usr/bin/env bash
# Throughput, latency and memory of the standalone proxy against a fast fake Gemini (issue 5).
# Compares, in one run and with wrk at each connection count: direct to the fake upstream (nginx
# returning a fixed 1 KB generateContent body), through a plain nginx reverse proxy (proxy_pass
# with keepalive, injecting one x-goog-api-key) and through gemini-rotator with 1,000 keys.
# The three targets take turns, --rounds times: this machine's speed drifts by a third within
# minutes, so one measurement of each, minutes apart, compares two different machines. Each
# round's ratios come from measurements seconds apart; the report gives their median and range.
# Usage: benchmarks/load/run.sh [--duration 10s] [--warmup 10s] [--keys 1000] [--rounds 3]
#                               [--connections "16 64"] [--threads 2]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION=10s WARMUP=10s KEYS=1000 CONNS="16 64" THREADS=2 ROUNDS=3
while (($#)); do
  case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done

need nginx wrk curl
pick_java
build_jars

UP_PORT=$(free_port); NGX_PORT=$(free_port); PROXY_PORT=$(free_port)
start_fast_upstream "$UP_PORT"
start_nginx_proxy "$NGX_PORT" "$UP_PORT"
write_proxy_config "$WORK/proxy.yaml" "$PROXY_PORT" "$UP_PORT" "$KEYS"
start_proxy "$WORK/proxy.yaml" "$PROXY_PORT"
RSS_IDLE=$(proc_field "$PROXY_PID" VmRSS)

declare -A BASE=([direct]="http://127.0.0.1:$UP_PORT" [nginx]="http://127.0.0.1:$NGX_PORT"
                 [rotator]="http://127.0.0.1:$PROXY_PORT")
TARGETS=(direct nginx rotator)
check_target direct "${BASE[direct]}"
check_target nginx "${BASE[nginx]}" proxy
check_target rotator "${BASE[rotator]}" proxy

declare -A RPS P50 P99 ERR
log "warm-up $WARMUP per target at 64 connections"
for t in "${TARGETS[@]}"; do measure "warm-up $t" "${BASE[$t]}$GC_PATH" 64 "$WARMUP" "$THREADS"; done

for ((r = 1; r <= ROUNDS; r++)); do
  for c in $CONNS; do
    for t in "${TARGETS[@]}"; do measure "$t,$c,$r" "${BASE[$t]}$GC_PATH" "$c" "$DURATION" "$THREADS"; done
  done
done
HWM=$(proc_field "$PROXY_PID" VmHWM)
THREADS_NOW=$(proc_field "$PROXY_PID" Threads)

# median VALUES...: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# per_round EXPR T C: EXPR (awk, over a and b) of target T against nginx, one value per round.
per_round() {
  local r
  for ((r = 1; r <= ROUNDS; r++)); do
    awk -v a="${RPS[$2,$3,$r]}" -v b="${RPS[nginx,$3,$r]}" -v d="${RPS[direct,$3,$r]}" \
      "BEGIN { printf \"%.2f\\n\", $1 }"
  done
}
declare -A M_RPS M_P50 M_P99 M_ERR
for c in $CONNS; do for t in "${TARGETS[@]}"; do
  rps=() p50=() p99=() err=0
  for ((r = 1; r <= ROUNDS; r++)); do
    rps+=("${RPS[$t,$c,$r]}"); p50+=("${P50[$t,$c,$r]}"); p99+=("${P99[$t,$c,$r]}")
    err=$((err + ERR[$t,$c,$r]))
  done
  M_RPS[$t,$c]=$(median "${rps[@]}"); M_P50[$t,$c]=$(median "${p50[@]}")
  M_P99[$t,$c]=$(median "${p99[@]}"); M_ERR[$t,$c]=$err
done; done

echo
echo "## gemini-rotator load benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "wrk -t$THREADS -d$DURATION per measurement (after $WARMUP warm-up per target), $ROUNDS rounds in which the targets take turns, $KEYS keys"
report_context
echo
echo "Medians over the rounds (errors: the sum):"
echo
echo "| target | connections | req/s | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|---:|"
for c in $CONNS; do for t in "${TARGETS[@]}"; do
  echo "| $t | $c | ${M_RPS[$t,$c]} | $(ms "${M_P50[$t,$c]}") | $(ms "${M_P99[$t,$c]}") | ${M_ERR[$t,$c]} |"
done; done
echo
echo "rotator / nginx in each round:"
for c in $CONNS; do
  echo "- $c connections: $(per_round 'a / b' rotator "$c" | tr '\n' ' ')"
done
echo
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
if [[ " $CONNS " == *" 64 "* ]]; then
  mapfile -t ratios < <(per_round 'a / b' rotator 64)
  mapfile -t ngx < <(per_round 'b / d' nginx 64)
  ratio=$(median "${ratios[@]}")
  lo=$(printf '%s\n' "${ratios[@]}" | sort -g | head -n 1); hi=$(printf '%s\n' "${ratios[@]}" | sort -g | tail -n 1)
  echo "- throughput at 64 connections: rotator/nginx median $ratio over $ROUNDS rounds (range $lo-$hi; target >= 0.80: $(verdict "$ratio >= 0.8")); nginx/direct median $(median "${ngx[@]}")"
fi
if [[ " $CONNS " == *" 16 "* ]]; then
  a50=$((M_P50[rotator,16] - M_P50[direct,16])); a99=$((M_P99[rotator,16] - M_P99[direct,16]))
  signed_ms() { awk -v u="$1" 'BEGIN { printf "%+.2f", u / 1000 }'; }
  echo "- added latency at 16 connections vs direct (medians): p50 $(signed_ms $a50) ms (target <= 0.5: $(verdict "$a50 <= 500")), p99 $(signed_ms $a99) ms (target <= 5: $(verdict "$a99 <= 5000"))"
fi
echo "- proxy memory with $KEYS keys: peak RSS (VmHWM) $((HWM / 1024)) MB (target <= 150: $(verdict "$HWM <= 153600")); idle after start $((RSS_IDLE / 1024)) MB; threads at end $THREADS_NOW"
total_err=0; for c in $CONNS; do for t in "${TARGETS[@]}"; do total_err=$((total_err + M_ERR[$t,$c])); done; done
echo "- wrk errors (socket + non-2xx) over all runs: $total_err"
