#!/usr/bin/env bash
# CPU time per request, and context switches per request, of each process in a load run: wrk, the
# fake Gemini (nginx) and the proxy under test: gemini-rotator, a plain nginx reverse proxy or the
# bare Netty proxy (engines.sh). Read from /proc over --duration while wrk runs; what throughput
# alone hides: when wrk and the upstream get dearer per request, the proxy in between batches
# worse. Targets are measured one after the other, so compare ratios to wrk's own cost.
# Usage: benchmarks/load/cpu.sh [--targets "nginx netty rotator"] [--connections 64]
#                               [--duration 10s] [--warmup 10s] [--keys 1000]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TARGETS="nginx netty rotator" CONNS=64 DURATION=10 WARMUP=10s KEYS=1000
while (($#)); do
  case $1 in
    --targets) TARGETS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --duration) DURATION=${2%s}; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
for t in $TARGETS; do [[ $t =~ ^(nginx|netty|rotator)$ ]] || die "unknown target $t (nginx netty rotator)"; done

need nginx wrk curl
pick_java
build_jars with-bench

# nginx workers whose master runs with the prefix DIR.
workers_of() {
  local p
  for p in $(pgrep -f "nginx: worker" || true); do
    if tr '\0' ' ' <"/proc/$(awk '{print $4}' "/proc/$p/stat")/cmdline" | grep -q -- "-p $1 "; then
      echo "$p"
    fi
  done
}
# sum over every thread of PIDS: voluntary and involuntary context switches, CPU ticks.
snapshot() {
  local v=0 i=0 c=0 p t
  for p in $1; do for t in /proc/"$p"/task/*; do
    v=$((v + $(awk '/^voluntary_ctxt/ {print $2}' "$t/status")))
    i=$((i + $(awk '/^nonvoluntary_ctxt/ {print $2}' "$t/status")))
    c=$((c + $(awk '{print $14 + $15}' "$t/stat")))
  done; done
  echo "$v $i $c"
}

UP_PORT=$(free_port)
start_fast_upstream "$UP_PORT"
UPSTREAM_PIDS=$(workers_of "$WORK/upstream" | tr '\n' ' ')
TICK=$(getconf CLK_TCK)
declare -A RPS P50 P99 ERR
echo
echo "## CPU per request, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "wrk -t2 -c$CONNS, $DURATION s measured per target after $WARMUP warm-up; gemini-rotator with $KEYS keys"
report_context
echo
echo "| proxy | req/s | wrk µs/req | upstream µs/req | proxy µs/req | proxy ÷ wrk | wrk switches/req | proxy preemptions/req |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for t in $TARGETS; do
  port=$(free_port)
  case $t in
    nginx) start_nginx_proxy "$port" "$UP_PORT"; PROXY_PIDS=$(workers_of "$WORK/nginx-proxy" | tr '\n' ' ') ;;
    netty) "$JAVA" $PROXY_JAVA_OPTS -cp "$BENCH_JAR" dev.geminirotator.benchmarks.engines.NettyBaselineProxy \
             --port "$port" --upstream "http://127.0.0.1:$UP_PORT" >"$WORK/netty.log" 2>&1 &
           PROXY_PIDS=$!; PIDS+=($!); wait_port "$port" 60 ;;
    rotator) write_proxy_config "$WORK/proxy.yaml" "$port" "$UP_PORT" "$KEYS"
             start_proxy "$WORK/proxy.yaml" "$port"; PROXY_PIDS=$PROXY_PID ;;
  esac
  check_target "$t" "http://127.0.0.1:$port" proxy
  measure "warm-up $t" "http://127.0.0.1:$port$GC_PATH" "$CONNS" "$WARMUP" 2
  wrk -t2 -c"$CONNS" -d$((DURATION + 4))s -s "$LOAD_DIR/post.lua" "http://127.0.0.1:$port$GC_PATH" \
    >"$WORK/wrk.out" 2>&1 &
  WRK=$!
  sleep 2
  w0=$(snapshot "$WRK"); u0=$(snapshot "$UPSTREAM_PIDS"); p0=$(snapshot "$PROXY_PIDS")
  sleep "$DURATION"
  w1=$(snapshot "$WRK"); u1=$(snapshot "$UPSTREAM_PIDS"); p1=$(snapshot "$PROXY_PIDS")
  wait "$WRK" || die "wrk failed: $(cat "$WORK/wrk.out")"
  r=$(grep '^WRK_RESULT' "$WORK/wrk.out") || die "no WRK_RESULT: $(cat "$WORK/wrk.out")"
  rate=$(( $(wrk_field requests "$r") * 1000000 / $(wrk_field duration_us "$r") ))
  reqs=$((rate * DURATION))
  read -r wv wi wc <<<"$w0"; read -r Wv Wi Wc <<<"$w1"
  read -r uv ui uc <<<"$u0"; read -r Uv Ui Uc <<<"$u1"
  read -r pv pi pc <<<"$p0"; read -r Pv Pi Pc <<<"$p1"
  awk -v t="$t" -v rate="$rate" -v n="$reqs" -v tick="$TICK" -v w=$((Wc - wc)) -v u=$((Uc - uc)) \
      -v p=$((Pc - pc)) -v ws=$((Wv - wv)) -v pp=$((Pi - pi)) 'BEGIN {
    f = 1e6 / tick / n
    printf "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.3f | %.3f |\n", t, rate, w * f, u * f, p * f,
      p / w, ws / n, pp / n }'
  case $t in
    nginx) kill "$(cat "$WORK/nginx-proxy/nginx.pid")" ;;
    *) kill "$PROXY_PIDS" ;;
  esac
  sleep 1
done
