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
BODY=$(fixed_body)
nginx_conf "$WORK/upstream" "$UP_PORT" "    location / { return 200 '$BODY'; }"
start_nginx "$WORK/upstream" "$UP_PORT"
nginx_conf "$WORK/nginx-proxy" "$NGX_PORT" "    location / {
      proxy_pass http://gemini;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header x-goog-api-key AIzaSyBench000001xxxxxxxxxxxxxxxxxxxxxxxxx;
    }" "upstream gemini { server 127.0.0.1:$UP_PORT; keepalive 256; keepalive_requests 10000000; }"
start_nginx "$WORK/nginx-proxy" "$NGX_PORT"
write_proxy_config "$WORK/proxy.yaml" "$PROXY_PORT" "$UP_PORT" "$KEYS"
start_proxy "$WORK/proxy.yaml" "$PROXY_PORT"
RSS_IDLE=$(proc_field "$PROXY_PID" VmRSS)

PATH_GC=/v1beta/models/gemini-2.5-flash:generateContent
declare -A URL=([direct]="http://127.0.0.1:$UP_PORT$PATH_GC"
                [nginx]="http://127.0.0.1:$NGX_PORT$PATH_GC"
                [rotator]="http://127.0.0.1:$PROXY_PORT$PATH_GC")
TARGETS=(direct nginx rotator)
for t in "${TARGETS[@]}"; do
  out=$(curl -sS -o "$WORK/check.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -d '{"contents":[{"parts":[{"text":"hi"}]}]}' "${URL[$t]}")
  [[ $out == 200 ]] && grep -q candidates "$WORK/check.json" || die "$t answered $out: $(head -c 300 "$WORK/check.json")"
done

wrk_run() { # target conns duration -> WRK_RESULT line
  wrk -t"$THREADS" -c"$2" -d"$3" --latency -s "$LOAD_DIR/post.lua" "${URL[$1]}" >"$WORK/wrk.out" 2>&1 \
    || die "wrk failed: $(cat "$WORK/wrk.out")"
  grep '^WRK_RESULT' "$WORK/wrk.out" || die "no WRK_RESULT: $(cat "$WORK/wrk.out")"
}
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }

log "warm-up $WARMUP per target at 64 connections"
for t in "${TARGETS[@]}"; do wrk_run "$t" 64 "$WARMUP" >/dev/null; done

declare -A RPS P50 P99 ERR
for c in $CONNS; do
  for t in "${TARGETS[@]}"; do
    r=$(wrk_run "$t" "$c" "$DURATION")
    RPS[$t,$c]=$(( $(field requests "$r") * 1000000 / $(field duration_us "$r") ))
    P50[$t,$c]=$(field p50_us "$r"); P99[$t,$c]=$(field p99_us "$r")
    ERR[$t,$c]=$(( $(field errors "$r") + $(field non2xx "$r") ))
    log "$t c=$c: ${RPS[$t,$c]} req/s p50 ${P50[$t,$c]} us p99 ${P99[$t,$c]} us errors ${ERR[$t,$c]}"
  done
done
HWM=$(proc_field "$PROXY_PID" VmHWM)
THREADS_NOW=$(proc_field "$PROXY_PID" Threads)

ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
echo
echo "## gemini-rotator load benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); $JAVA_VERSION; proxy flags: MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX $PROXY_JAVA_OPTS"
echo "wrk -t$THREADS -d$DURATION (after $WARMUP warm-up per target), $KEYS keys; $(nproc) CPUs, load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
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
total_err=0; for v in "${ERR[@]}"; do total_err=$((total_err + v)); done
echo "- wrk errors (socket + non-2xx) over all runs: $total_err"
