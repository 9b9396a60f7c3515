#!/usr/bin/env bash
# Load and soak (issue 7): the proxy at a steady open-model rate (FixedRateLoad) for --duration,
# against a fake Gemini (nginx) answering 5% 429 (the per-minute quota fixture, retryDelay 37s)
# and 1% 503 (the overloaded fixture), the rest the 1 KB generateContent body. Reports requests
# sent, client responses by status, requests lost, and the proxy's heap after a full GC, RSS,
# threads and open fds after warm-up and at the end.
# Usage: benchmarks/load/soak.sh [--duration 10m] [--rate 400] [--keys 2000] [--warmup 60s]
#                                [--sample 30s] [--storage memory|redis|cluster]
# --storage: where the proxy keeps its state, memory (the default), a throwaway redis-server
# (redis) or a throwaway 3-master Redis Cluster (cluster); every 429 and 503 then writes to it.
# Every 429 cools its key for ~37 s, so about 2 x rate keys are cooling at any time: keep
# --keys above 2.5 x --rate or the pool runs dry and clients get 429s (by design, not a loss).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

secs() { # 90, 90s, 10m, 1h -> seconds
  case $1 in
    *h) echo $((${1%h} * 3600)) ;; *m) echo $((${1%m} * 60)) ;; *s) echo "${1%s}" ;;
    *[!0-9]*|'') die "bad duration $1 (use 90s, 10m, 1h)" ;; *) echo "$1" ;;
  esac
}
DURATION=600 RATE=400 KEYS=2000 WARMUP=60 SAMPLE=30 STORAGE=memory
while (($#)); do
  case $1 in
    --duration) DURATION=$(secs "$2"); shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --warmup) WARMUP=$(secs "$2"); shift 2 ;;
    --sample) SAMPLE=$(secs "$2"); shift 2 ;;
    --storage) STORAGE=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done

[[ $STORAGE =~ ^(memory|redis|cluster)$ ]] || die "--storage must be memory, redis or cluster, not '$STORAGE'"

need nginx curl
pick_java
build_jars with-bench
start_store "$STORAGE"

UP_PORT=$(free_port); PROXY_PORT=$(free_port)
BODY=$(fixed_body)
mkdir -p "$WORK/upstream/www/errors"
cp "$FIXTURES/gemini-errors/429-per-minute.json" "$WORK/upstream/www/errors/429.json"
cp "$FIXTURES/gemini-errors/503-overloaded.json" "$WORK/upstream/www/errors/503.json"
# $request_id is random per request: split_clients turns it into a 5% / 1% / 94% draw. A
# 'return 429' is answered by error_page with the fixture file, keeping the 429 status.
nginx_conf "$WORK/upstream" "$UP_PORT" "    location / {
      if (\$gemini_outcome = r429) { return 429; }
      if (\$gemini_outcome = r503) { return 503; }
      return 200 '$BODY';
    }
    error_page 429 /errors/429.json;
    error_page 503 /errors/503.json;
    location /errors/ { internal; root $WORK/upstream/www; }" \
  "split_clients \"\${request_id}\" \$gemini_outcome { 5% r429; 1% r503; * ok; }"
start_nginx "$WORK/upstream" "$UP_PORT"
write_proxy_config "$WORK/proxy.yaml" "$PROXY_PORT" "$UP_PORT" "$KEYS" 512 "" "${STORE_URI[$STORAGE]}"
start_proxy "$WORK/proxy.yaml" "$PROXY_PORT"
check_store "$WORK/proxy.yaml" "$STORAGE"
URL="http://127.0.0.1:$PROXY_PORT/v1beta/models/gemini-2.5-flash:generateContent"

load() { # seconds logfile
  "$JAVA" -Xmx512m -cp "$BENCH_JAR" dev.geminirotator.benchmarks.load.FixedRateLoad \
    --url "$URL" --rate "$RATE" --duration-s "$1" --sample-s "$SAMPLE" --proxy-pid "$PROXY_PID" \
    >"$2" 2>&1 &
  local pid=$!; PIDS+=($pid)
  local rc=0; wait "$pid" || rc=$?
  return "$rc"
}
snapshot() { # NAME -> "heapMB rssMB threads fds"; keeps a class histogram in WORK
  local heap; heap=$(heap_after_gc_mb "$PROXY_PID")
  "$JCMD" "$PROXY_PID" GC.class_histogram >"$WORK/histogram-$1.txt" 2>&1 || true
  sleep 1
  echo "$heap $(($(proc_field "$PROXY_PID" VmRSS) / 1024)) $(proc_field "$PROXY_PID" Threads) $(proc_fds "$PROXY_PID")"
}

log "warm-up: ${WARMUP}s at $RATE req/s"
load "$WARMUP" "$WORK/warmup.log" || log "warm-up: $(grep LOAD_RESULT "$WORK/warmup.log")"
read -r H0 R0 T0 F0 < <(snapshot start)
log "after warm-up: heap ${H0} MB, RSS $R0 MB, threads $T0, fds $F0; soak ${DURATION}s at $RATE req/s"
# shellcheck disable=SC2086
[[ -z ${STORE_PORTS[$STORAGE]} ]] || CALLS0=$(redis_calls ${STORE_PORTS[$STORAGE]})
rc=0; load "$DURATION" "$WORK/soak.log" || rc=$?
# shellcheck disable=SC2086
[[ -z ${STORE_PORTS[$STORAGE]} ]] || CALLS=$(( $(redis_calls ${STORE_PORTS[$STORAGE]}) - CALLS0 ))
sleep 2
read -r H1 R1 T1 F1 < <(snapshot end)
RESULT=$(grep '^LOAD_RESULT' "$WORK/soak.log" || echo "LOAD_RESULT missing: $(tail -n 5 "$WORK/soak.log")")
MAX_T=$(sed -n 's/.* threads=\([0-9]*\).*/\1/p' "$WORK/soak.log" | sort -n | tail -n 1)
MAX_F=$(sed -n 's/.* fds=\([0-9]*\).*/\1/p' "$WORK/soak.log" | sort -n | tail -n 1)
UPSTREAM=$(curl -fsS "http://127.0.0.1:$PROXY_PORT/metrics" \
  | awk '/^gemini_proxy_(upstream_latency_seconds_count|requests_seconds_count|retries_total|rejected_total)/ {print}' | head -n 30)

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (b - a) * 100 / a }'; }
within() { awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = (b - a) / a; if (d < 0) d = -d; print (d <= p ? "PASS" : "FAIL") }'; }
echo
echo "## gemini-rotator soak, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); $JAVA_VERSION; proxy flags: $PROXY_JAVA_OPTS; $KEYS keys"
echo "${DURATION}s at $RATE req/s after ${WARMUP}s warm-up; upstream 5% 429 / 1% 503; $(nproc) CPUs, load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "store: $STORAGE${STORE_URI[$STORAGE]:+ (${STORE_URI[$STORAGE]})}"
echo
echo "- client: ${RESULT#LOAD_RESULT }"
[[ -z ${CALLS:-} ]] \
  || echo "- Redis commands during the soak: $CALLS, $(awk -v a="$CALLS" -v b="$((DURATION * RATE))" 'BEGIN { printf "%.3f", a / b }') per request sent at the nominal rate (the INFO calls that count them included)"
echo
echo "| proxy | after warm-up | end | change | target |"
echo "|---|---:|---:|---:|---|"
echo "| heap after full GC, MB | $H0 | $H1 | $(pct "$H0" "$H1") | flat within 10%: $(within "$H0" "$H1" 0.10) |"
echo "| RSS, MB | $R0 | $R1 | $(pct "$R0" "$R1") | flat within 10%: $(within "$R0" "$R1" 0.10) |"
echo "| threads (max during soak $MAX_T) | $T0 | $T1 | $(pct "$T0" "$T1") | flat |"
echo "| open fds (max during soak $MAX_F) | $F0 | $F1 | $(pct "$F0" "$F1") | no growth |"
echo
echo "- samples: see below; proxy ERROR log lines: $(grep -c '"level":"ERROR"' "$WORK/proxy.log" || true)"
sed -n 's/^t=/  t=/p' "$WORK/soak.log"
[[ -n $UPSTREAM ]] && { echo "- proxy metrics:"; sed 's/^/  /' <<<"$UPSTREAM"; }
echo "- live heap growth by class, start -> end (KB; KEEP_WORK=1 keeps both histograms):"
awk '$1 ~ /^[0-9]+:$/ { kb = $3 / 1024; if (FNR == NR) a[$4] = kb; else b[$4] = kb }
     END { for (c in b) if (b[c] - a[c] >= 64) printf "  %+9.0f  %s\n", b[c] - a[c], c }' \
  "$WORK/histogram-start.txt" "$WORK/histogram-end.txt" | sort -rn | head -n 10
exit "$rc"
