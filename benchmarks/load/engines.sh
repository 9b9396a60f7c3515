#!/usr/bin/env bash
# Engine baseline (issue 5, "Choose the upstream client by measurement"; issue 16 item 7, "The
# HTTP layer by measurement, again"): how much of a plain nginx reverse proxy's throughput each
# HTTP engine reaches on this machine with nothing of ours on top, next to gemini-rotator, in one
# run. Against the same fake Gemini (nginx, fixed 1 KB body), with wrk at each connection count:
# nginx reverse proxy (the yardstick), NettyBaselineProxy (Netty 4.2, io_uring where it works, as
# the proxy picks), JettyBaselineProxy (Jetty 12 server + HttpClient), ArmeriaBaselineProxy
# (armeria: Armeria 1.x server + WebClient), ReactorNettyBaselineProxy (reactor: Reactor Netty
# HttpServer + HttpClient) and gemini-rotator with 1,000 keys. netty-epoll and rotator-epoll are
# the same two on epoll, to compare the transports side by side.
# Every Java target runs with the same flags (PROXY_JAVA_OPTS, see lib.sh; rotator-alt adds --alt-opts). The targets take turns,
# --rounds times (see run.sh); "× nginx" is the median of the per-round ratios, "× rotator" (when
# rotator runs) the same against gemini-rotator: issue 16 adopts an engine at >= 0.95× rotator at
# 64 connections (benchmarks/README.md, "Engines for the HTTP layer").
# Usage: benchmarks/load/engines.sh [--duration 10s] [--warmup 10s] [--keys 1000] [--rounds 3]
#          [--connections "16 64"] [--threads 2] [--targets "nginx netty jetty rotator"]
#          [--netty-transport auto|io_uring|epoll|nio] [--alt-opts "JVM FLAGS"]
# --targets may also name direct (the upstream alone), netty-epoll, armeria, reactor,
# rotator-epoll, and rotator-alt: gemini-rotator with --alt-opts added to its flags, to weigh a
# JVM or Netty setting side by side. --netty-transport applies to netty and armeria (reactor:
# auto, or nio when it is nio).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION=10s WARMUP=10s KEYS=1000 CONNS="16 64" THREADS=2 TARGETS="nginx netty jetty rotator"
ROUNDS=3
NETTY_TRANSPORT=auto
ALT_OPTS=""
while (($#)); do
  case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --targets) TARGETS=$2; shift 2 ;;
    --netty-transport) NETTY_TRANSPORT=$2; shift 2 ;;
    --alt-opts) ALT_OPTS=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
for t in $TARGETS; do
  [[ $t =~ ^(direct|nginx|netty|netty-epoll|jetty|armeria|reactor|rotator|rotator-epoll|rotator-alt)$ ]] \
    || die "unknown target $t (direct nginx netty netty-epoll jetty armeria reactor rotator rotator-epoll rotator-alt)"
  [[ $t != rotator-alt || -n $ALT_OPTS ]] || die "target rotator-alt needs --alt-opts"
done

need nginx wrk curl
pick_java
ENGINES_CLASS=dev/geminirotator/benchmarks/engines/ReactorNettyBaselineProxy.class
if [[ -f $BENCH_JAR ]] && ! grep -aq "$ENGINES_CLASS" "$BENCH_JAR"; then
  die "$BENCH_JAR predates the engine baselines; delete it (or rebuild benchmarks) and rerun"
fi
build_jars with-bench

# start_baseline NAME PORT CLASS ARGS...: one engine baseline from the benchmarks jar.
declare -A PID_OF
start_baseline() {
  local name=$1 port=$2 class=$3; shift 3
  # shellcheck disable=SC2086
  "$JAVA" $PROXY_JAVA_OPTS -cp "$BENCH_JAR" "dev.geminirotator.benchmarks.engines.$class" \
    --port "$port" "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!); PID_OF[$name]=$!
  wait_port "$port" 60
  grep -q '^READY' "$WORK/$name.log" || { sleep 1; grep -q '^READY' "$WORK/$name.log"; } \
    || die "$name did not start: $(tail -n 20 "$WORK/$name.log")"
  log "$name pid $! on 127.0.0.1:$port: $(grep -m1 '^READY' "$WORK/$name.log")"
}

UP_PORT=$(free_port)
start_fast_upstream "$UP_PORT"
declare -A BASE=([direct]="http://127.0.0.1:$UP_PORT")
for t in $TARGETS; do
  port=$(free_port); BASE[$t]="http://127.0.0.1:$port"
  case $t in
    nginx) start_nginx_proxy "$port" "$UP_PORT" ;;
    netty) start_baseline netty "$port" NettyBaselineProxy --upstream "${BASE[direct]}" \
             --transport "$NETTY_TRANSPORT" ;;
    netty-epoll) start_baseline netty-epoll "$port" NettyBaselineProxy \
             --upstream "${BASE[direct]}" --transport epoll ;;
    jetty) start_baseline jetty "$port" JettyBaselineProxy --upstream "${BASE[direct]}" ;;
    armeria) start_baseline armeria "$port" ArmeriaBaselineProxy --upstream "${BASE[direct]}" \
             --transport "$NETTY_TRANSPORT" ;;
    reactor) reactor_transport=auto; [[ $NETTY_TRANSPORT == nio ]] && reactor_transport=nio
             start_baseline reactor "$port" ReactorNettyBaselineProxy \
             --upstream "${BASE[direct]}" --transport "$reactor_transport" ;;
    rotator) write_proxy_config "$WORK/proxy.yaml" "$port" "$UP_PORT" "$KEYS"
             start_proxy "$WORK/proxy.yaml" "$port"; PID_OF[rotator]=$PROXY_PID ;;
    rotator-alt) write_proxy_config "$WORK/proxy-alt.yaml" "$port" "$UP_PORT" "$KEYS"
             PROXY_JAVA_OPTS="$PROXY_JAVA_OPTS $ALT_OPTS" start_proxy "$WORK/proxy-alt.yaml" "$port"
             PID_OF[rotator-alt]=$PROXY_PID ;;
    rotator-epoll) write_proxy_config "$WORK/proxy-epoll.yaml" "$port" "$UP_PORT" "$KEYS" 512 epoll
             start_proxy "$WORK/proxy-epoll.yaml" "$port"; PID_OF[rotator-epoll]=$PROXY_PID ;;
  esac
  if [[ $t == direct ]]; then check_target "$t" "${BASE[$t]}"; else check_target "$t" "${BASE[$t]}" proxy; fi
done

declare -A RPS P50 P99 ERR RATIO RANGE VSROT VSROT_RANGE
log "warm-up $WARMUP per target at 64 connections"
for t in $TARGETS; do measure "warm-up $t" "${BASE[$t]}$GC_PATH" 64 "$WARMUP" "$THREADS"; done
for ((r = 1; r <= ROUNDS; r++)); do
  for c in $CONNS; do
    for t in $TARGETS; do measure "$t,$c,$r" "${BASE[$t]}$GC_PATH" "$c" "$DURATION" "$THREADS"; done
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for c in $CONNS; do for t in $TARGETS; do
  rps=() p50=() p99=() ratios=() vsrot=() err=0
  for ((r = 1; r <= ROUNDS; r++)); do
    rps+=("${RPS[$t,$c,$r]}"); p50+=("${P50[$t,$c,$r]}"); p99+=("${P99[$t,$c,$r]}")
    err=$((err + ERR[$t,$c,$r]))
    [[ -n ${RPS[nginx,$c,$r]:-} ]] && ratios+=("$(awk -v a="${RPS[$t,$c,$r]}" \
      -v b="${RPS[nginx,$c,$r]}" 'BEGIN { printf "%.2f", a / b }')")
    [[ -n ${RPS[rotator,$c,$r]:-} ]] && vsrot+=("$(awk -v a="${RPS[$t,$c,$r]}" \
      -v b="${RPS[rotator,$c,$r]}" 'BEGIN { printf "%.2f", a / b }')")
  done
  RPS[$t,$c]=$(median "${rps[@]}"); P50[$t,$c]=$(median "${p50[@]}"); P99[$t,$c]=$(median "${p99[@]}")
  ERR[$t,$c]=$err
  if ((${#ratios[@]})); then RATIO[$t,$c]=$(median "${ratios[@]}"); RANGE[$t,$c]="${ratios[*]}"; fi
  if ((${#vsrot[@]})); then VSROT[$t,$c]=$(median "${vsrot[@]}"); VSROT_RANGE[$t,$c]="${vsrot[*]}"; fi
done; done

declare -A LABEL=([direct]="direct (nginx upstream)" [nginx]="nginx reverse proxy"
                  [netty]="Netty baseline" [netty-epoll]="Netty baseline (epoll)" [jetty]="Jetty baseline"
                  [armeria]="Armeria baseline" [reactor]="Reactor Netty baseline"
                  [rotator]="gemini-rotator" [rotator-epoll]="gemini-rotator (epoll)"
                  [rotator-alt]="gemini-rotator + $ALT_OPTS")
for t in netty armeria reactor; do
  [[ -n ${PID_OF[$t]:-} ]] \
    && LABEL[$t]="${LABEL[$t]} ($(sed -n 's/^READY.*transport=\([a-z_]*\).*/\1/p' "$WORK/$t.log"))"
done
[[ -n ${PID_OF[rotator]:-} ]] \
  && LABEL[rotator]="gemini-rotator ($(proxy_transport "${BASE[rotator]##*:}"))"
echo
echo "## Engine baseline, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "wrk -t$THREADS -d$DURATION per measurement (after $WARMUP warm-up per target at 64 connections), $ROUNDS rounds in which the targets take turns; POST generateContent, 1 KB answer; gemini-rotator with $KEYS keys"
report_context
echo
echo "Medians over the rounds; × nginx and × rotator: the median of each round's ratio to that target (each round's in brackets)."
echo
echo "| target | connections | req/s | × nginx | × rotator | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for c in $CONNS; do for t in $TARGETS; do
  ratio="-" vs="-"
  [[ -n ${RATIO[$t,$c]:-} ]] && ratio="${RATIO[$t,$c]} (${RANGE[$t,$c]})"
  [[ -n ${VSROT[$t,$c]:-} ]] && vs="${VSROT[$t,$c]} (${VSROT_RANGE[$t,$c]})"
  echo "| ${LABEL[$t]} | $c | ${RPS[$t,$c]} | $ratio | $vs | $(ms "${P50[$t,$c]}") | $(ms "${P99[$t,$c]}") | ${ERR[$t,$c]} |"
done; done
if [[ -n ${PID_OF[rotator]:-} && -n ${VSROT[armeria,64]:-}${VSROT[reactor,64]:-} ]]; then
  echo
  for t in armeria reactor; do
    [[ -n ${VSROT[$t,64]:-} ]] || continue
    verdict=$(awk -v v="${VSROT[$t,64]}" 'BEGIN { print (v >= 0.95 ? "reaches" : "misses") }')
    echo "- ${LABEL[$t]} at 64 connections: ${VSROT[$t,64]}× gemini-rotator, $verdict the 0.95× bar of issue 16 (the bar alone; the rule also asks what it would remove, see benchmarks/README.md)"
  done
fi
echo
for t in $TARGETS; do
  [[ -n ${PID_OF[$t]:-} ]] || continue
  echo "- ${LABEL[$t]}: peak RSS (VmHWM) $(( $(proc_field "${PID_OF[$t]}" VmHWM) / 1024 )) MB, threads at end $(proc_field "${PID_OF[$t]}" Threads)"
done
total_err=0; for c in $CONNS; do for t in $TARGETS; do total_err=$((total_err + ERR[$t,$c])); done; done
echo "- wrk errors (socket + non-2xx) over all runs: $total_err"
