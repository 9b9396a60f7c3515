#!/usr/bin/env bash
# What one request costs the proxy: CPU µs and bytes allocated per request, the measures a busy
# machine disturbs least (throughput moves by a third within minutes here; CPU time and
# allocation per request barely move). Starts the fast fake Gemini (nginx) and one proxy per
# --jar (all running at once, idle but for their turn), warms each up, then for --rounds takes
# turns: reads the proxy's CPU time (/proc/PID/stat, every thread, GC and JIT included) and the
# bytes allocated by each of its threads (jcmd Thread.print -e), runs wrk for --duration, reads
# both again, and divides by the requests wrk completed. Compare jars within one run: the
# "× first" column is each round's CPU per request against the first jar's in the same round.
# Usage: benchmarks/load/cost.sh [--jar label=path]... [--rounds 3] [--connections 64]
#                                [--duration 10s] [--warmup 20s] [--keys 1000]
# Without --jar it measures gemini-rotator-standalone/target/gemini-rotator-standalone.jar.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

JARS=() ROUNDS=3 CONNS=64 DURATION=10s WARMUP=20s KEYS=1000
while (($#)); do
  case $1 in
    --jar) JARS+=("$2"); shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
((${#JARS[@]} > 0)) || { build_jars; JARS=("rotator=$PROXY_JAR"); }

need nginx wrk curl
pick_java
TICK=$(getconf CLK_TCK)

# CPU ticks of every thread of PID, live or exited: user and system (utime, stime).
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
# Bytes allocated by the live threads of PID (threads that exit meanwhile are lost: the proxy's
# event loops and workers live as long as it does).
allocated() {
  "$JCMD" "$1" Thread.print -e 2>/dev/null | sed -n 's/.* allocated=\([0-9]*\)\([BKMG]\).*/\1 \2/p' \
    | awk '{m = $2 == "K" ? 1024 : $2 == "M" ? 1048576 : $2 == "G" ? 1073741824 : 1; s += $1 * m}
           END {printf "%.0f\n", s}'
}

UP_PORT=$(free_port)
start_fast_upstream "$UP_PORT"
declare -A PID_OF URL_OF JAR_OF
LABELS=()
for spec in "${JARS[@]}"; do
  label=${spec%%=*} jar=${spec#*=}
  [[ -f $jar ]] || die "no jar $jar"
  port=$(free_port)
  write_proxy_config "$WORK/$label.yaml" "$port" "$UP_PORT" "$KEYS"
  PROXY_JAR=$jar start_proxy "$WORK/$label.yaml" "$port"
  PID_OF[$label]=$PROXY_PID URL_OF[$label]="http://127.0.0.1:$port" JAR_OF[$label]=$jar
  check_target "$label" "${URL_OF[$label]}" proxy
  LABELS+=("$label")
done

declare -A RPS P50 P99 ERR CPU USR BYTES
for l in "${LABELS[@]}"; do measure "warm-up $l" "${URL_OF[$l]}$GC_PATH" "$CONNS" "$WARMUP" 2; done
for ((r = 1; r <= ROUNDS; r++)); do
  for l in "${LABELS[@]}"; do
    pid=${PID_OF[$l]}
    read -r u0 s0 <<<"$(cpu_ticks "$pid")"; a0=$(allocated "$pid")
    wrk -t2 -c"$CONNS" -d"$DURATION" -s "$LOAD_DIR/post.lua" "${URL_OF[$l]}$GC_PATH" \
      >"$WORK/wrk.out" 2>&1 || die "wrk failed: $(cat "$WORK/wrk.out")"
    read -r u1 s1 <<<"$(cpu_ticks "$pid")"; a1=$(allocated "$pid")
    res=$(grep '^WRK_RESULT' "$WORK/wrk.out") || die "no WRK_RESULT: $(cat "$WORK/wrk.out")"
    n=$(wrk_field requests "$res")
    ((n > 0)) || die "$l answered no request"
    errors=$(( $(wrk_field errors "$res") + $(wrk_field non2xx "$res") ))
    RPS[$l,$r]=$(( n * 1000000 / $(wrk_field duration_us "$res") ))
    CPU[$l,$r]=$(awk -v t=$((u1 + s1 - u0 - s0)) -v k="$TICK" -v n="$n" 'BEGIN {printf "%.2f", t * 1e6 / k / n}')
    USR[$l,$r]=$(awk -v t=$((u1 - u0)) -v k="$TICK" -v n="$n" 'BEGIN {printf "%.2f", t * 1e6 / k / n}')
    BYTES[$l,$r]=$(awk -v b=$((a1 - a0)) -v n="$n" 'BEGIN {printf "%.0f", b / n}')
    log "$l round $r: ${RPS[$l,$r]} req/s, ${CPU[$l,$r]} µs CPU/req (user ${USR[$l,$r]}), ${BYTES[$l,$r]} B/req, $errors errors"
  done
done

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo
echo "## Proxy cost per request, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "wrk -t2 -c$CONNS, $DURATION per round, $ROUNDS rounds taking turns, after $WARMUP warm-up each; $KEYS keys"
PROXY_JAR="the jars of the table" report_context
echo
echo "| proxy | CPU µs/req, median (rounds) | user µs/req, median | × first, median of rounds (rounds) | B/req, median (rounds) | req/s, median |"
echo "|---|---:|---:|---:|---:|---:|"
first=${LABELS[0]}
for l in "${LABELS[@]}"; do
  cs=() us=() bs=() rs=() xs=()
  for ((r = 1; r <= ROUNDS; r++)); do
    cs+=("${CPU[$l,$r]}"); us+=("${USR[$l,$r]}"); bs+=("${BYTES[$l,$r]}"); rs+=("${RPS[$l,$r]}")
    xs+=("$(awk -v a="${CPU[$l,$r]}" -v b="${CPU[$first,$r]}" 'BEGIN {printf "%.3f", a / b}')")
  done
  echo "| $l (\`${JAR_OF[$l]}\`) | $(median "${cs[@]}") (${cs[*]}) | $(median "${us[@]}") | $(median "${xs[@]}") (${xs[*]}) | $(median "${bs[@]}") (${bs[*]}) | $(median "${rs[@]}") |"
done
