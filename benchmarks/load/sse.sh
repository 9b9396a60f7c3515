#!/usr/bin/env bash
# Many concurrent slow server-sent-event streams through the proxy (issue 5): a slow fake Gemini
# (SlowSseUpstream, one event per second) and a client (SseStreams) that holds --streams open
# streamGenerateContent?alt=sse calls and checks every event of every stream arrived. Reports
# streams opened / completed / errors and the proxy's threads, RSS and fds while all are open.
# Usage: benchmarks/load/sse.sh [--streams 10000] [--events 60] [--ramp 500] [--keys 1000] [--h2c]
# --h2c: the client speaks HTTP/2 with prior knowledge (streams share connections).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

STREAMS=10000 EVENTS=60 RAMP=500 KEYS=1000 PROTOCOL=http/1.1
while (($#)); do
  case $1 in
    --streams) STREAMS=$2; shift 2 ;;
    --events) EVENTS=$2; shift 2 ;;
    --ramp) RAMP=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --h2c) PROTOCOL=h2c; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done

need curl
pick_java
build_jars with-bench

# The proxy holds two sockets per stream over HTTP/1.1 (client side and upstream side); with h2c
# the client side is a few connections (up to 100 streams each).
if [[ $PROTOCOL == h2c ]]; then NEED_FDS=$((STREAMS + STREAMS / 100 + 200)); else NEED_FDS=$((2 * STREAMS + 200)); fi
if (($(ulimit -n) < NEED_FDS)); then ulimit -n "$NEED_FDS" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"; fi
FDS=$(ulimit -n)
if ((FDS < NEED_FDS)); then
  if [[ $PROTOCOL == h2c ]]; then CAPPED=$(((FDS - 200) * 100 / 101)); else CAPPED=$(((FDS - 200) / 2)); fi
  log "WARNING: ulimit -n is capped at $FDS here (hard limit; raising it needs root/CAP_SYS_RESOURCE);"
  log "WARNING: $STREAMS streams need $NEED_FDS fds in the proxy: running $CAPPED streams instead"
  STREAMS=$CAPPED
fi
log "ulimit -n $FDS; $STREAMS streams, $EVENTS events each, $RAMP new streams/s"

UP_PORT=$(free_port); PROXY_PORT=$(free_port)
"$JAVA" -Xmx512m -cp "$BENCH_JAR" dev.geminirotator.benchmarks.load.SlowSseUpstream \
  --port "$UP_PORT" --events "$EVENTS" --interval-ms 1000 >"$WORK/upstream.log" 2>&1 &
UP_PID=$!; PIDS+=($UP_PID)
wait_port "$UP_PORT" 30
write_proxy_config "$WORK/proxy.yaml" "$PROXY_PORT" "$UP_PORT" "$KEYS" $((STREAMS + 100))
start_proxy "$WORK/proxy.yaml" "$PROXY_PORT"
BEFORE="threads $(proc_field "$PROXY_PID" Threads), RSS $(($(proc_field "$PROXY_PID" VmRSS) / 1024)) MB, fds $(proc_fds "$PROXY_PID")"

"$JAVA" -Xmx1g -cp "$BENCH_JAR" dev.geminirotator.benchmarks.load.SseStreams \
  --url "http://127.0.0.1:$PROXY_PORT/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse" \
  --streams "$STREAMS" --events "$EVENTS" --ramp "$RAMP" --proxy-pid "$PROXY_PID" \
  --protocol "$PROTOCOL" \
  >"$WORK/client.log" 2>&1 &
CLIENT_PID=$!; PIDS+=($CLIENT_PID)
rc=0; wait "$CLIENT_PID" || rc=$?
grep -v PLATEAU_MAX "$WORK/client.log" | sed -n '/^t=/p' | awk 'NR % 5 == 1' >&2
AFTER="threads $(proc_field "$PROXY_PID" Threads), RSS $(($(proc_field "$PROXY_PID" VmRSS) / 1024)) MB, fds $(proc_fds "$PROXY_PID"), peak RSS $(($(proc_field "$PROXY_PID" VmHWM) / 1024)) MB"
errors_in_log=$(grep -c '"level":"ERROR"' "$WORK/proxy.log" || true)
kill -0 "$PROXY_PID" 2>/dev/null || { log "the proxy died: $(tail -n 3 "$WORK/proxy.log")"; rc=1; AFTER="proxy DIED"; }

echo
echo "## gemini-rotator SSE streams, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); $JAVA_VERSION; proxy flags: $PROXY_JAVA_OPTS; upstream.max-connections $((STREAMS + 100)); $KEYS keys"
echo "$STREAMS streams x $EVENTS events (1/s) over $PROTOCOL, opened at $RAMP/s; $(nproc) CPUs, load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "- client: $(grep '^SSE_RESULT' "$WORK/client.log" || echo 'no result (client died?)')"
echo "- proxy while all streams were open: $(grep '^PLATEAU_MAX' "$WORK/client.log" | tail -n 1 || echo 'never reached the plateau')"
echo "- proxy before: $BEFORE; after: $AFTER; ERROR log lines: $errors_in_log"
echo "- upstream: $(grep '^upstream' "$WORK/upstream.log" | tail -n 1)"
[[ -n ${CAPPED:-} ]] && echo "- NOTE: streams capped to $CAPPED by ulimit -n $FDS"
exit "$rc"
