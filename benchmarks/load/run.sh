#!/usr/bin/env bash
# Throughput, latency and memory of the standalone proxy against a fast fake Gemini (issue 5).
# Compares, in one run and with wrk at each connection count: direct to the fake upstream (nginx
# returning a fixed 1 KB generateContent body), through a plain nginx reverse proxy (proxy_pass
# with keepalive, injecting one x-goog-api-key) and through gemini-rotator with 1,000 keys.
# Usage: benchmarks/load/run.sh [--duration 15s] [--warmup 10s] [--keys 1000]
#                               [--connections "16 64"] [--threads 2]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION=15s WARMUP=10s KEYS=1000 CONNS="16 64" THREADS=2
while (($#)); do
  case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
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

for c in $CONNS; do
  for t in "${TARGETS[@]}"; do measure "$t,$c" "${BASE[$t]}$GC_PATH" "$c" "$DURATION" "$THREADS"; done
done
HWM=$(proc_field "$PROXY_PID" VmHWM)
THREADS_NOW=$(proc_field "$PROXY_PID" Threads)

echo
echo "## gemini-rotator load benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "wrk -t$THREADS -d$DURATION (after $WARMUP warm-up per target), $KEYS keys"
report_context
echo
echo "| target | connections | req/s | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|---:|"
for c in $CONNS; do for t in "${TARGETS[@]}"; do
  echo "| $t | $c | ${RPS[$t,$c]} | $(ms "${P50[$t,$c]}") | $(ms "${P99[$t,$c]}") | ${ERR[$t,$c]} |"
done; done
echo
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
if [[ " $CONNS " == *" 64 "* ]]; then
  ratio=$(awk -v a="${RPS[rotator,64]}" -v b="${RPS[nginx,64]}" 'BEGIN { printf "%.2f", a / b }')
  ngx=$(awk -v a="${RPS[nginx,64]}" -v b="${RPS[direct,64]}" 'BEGIN { printf "%.2f", a / b }')
  echo "- throughput at 64 connections: rotator/nginx = $ratio (target >= 0.80: $(verdict "$ratio >= 0.8")); nginx/direct = $ngx"
fi
if [[ " $CONNS " == *" 16 "* ]]; then
  a50=$((P50[rotator,16] - P50[direct,16])); a99=$((P99[rotator,16] - P99[direct,16]))
  echo "- added latency at 16 connections vs direct: p50 +$(ms $a50) ms (target <= 0.5: $(verdict "$a50 <= 500")), p99 +$(ms $a99) ms (target <= 5: $(verdict "$a99 <= 5000"))"
fi
echo "- proxy memory with $KEYS keys: peak RSS (VmHWM) $((HWM / 1024)) MB (target <= 150: $(verdict "$HWM <= 153600")); idle after start $((RSS_IDLE / 1024)) MB; threads at end $THREADS_NOW"
total_err=0; for c in $CONNS; do for t in "${TARGETS[@]}"; do total_err=$((total_err + ERR[$t,$c])); done; done
echo "- wrk errors (socket + non-2xx) over all runs: $total_err"
