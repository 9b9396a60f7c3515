#!/usr/bin/env bash
# Throughput, latency and memory of the standalone proxy against a fast fake Gemini (issue 5).
# Compares, in one run and with wrk at each connection count: direct to the fake upstream (nginx
# returning a fixed 1 KB generateContent body), through a plain nginx reverse proxy (proxy_pass
# with keepalive, injecting one x-goog-api-key) and through gemini-rotator with 1,000 keys.
# The three targets take turns, --rounds times: this machine's speed drifts by a third within
# minutes, so one measurement of each, minutes apart, compares two different machines. Each
# round's ratios come from measurements seconds apart; the report gives their median and range.
# Usage: benchmarks/load/run.sh [--duration 10s] [--warmup 10s] [--keys 1000] [--rounds 3]
#                               [--connections "16 64"] [--threads 2] [--storage memory|redis|cluster]
#                               [--targets "direct nginx rotator"]
# --storage is where the rotator target keeps its state: memory (the default), redis (a throwaway
# redis-server) or cluster (a throwaway 3-master Redis Cluster). --targets may also name
# rotator-redis and rotator-cluster: a second and third proxy on those stores, taking turns with the
# rest, so "× rotator" compares the stores within one run (issue 17: "no loss"); with a Redis
# target the report also gives Redis commands per request (INFO commandstats around each run).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION=10s WARMUP=10s KEYS=1000 CONNS="16 64" THREADS=2 ROUNDS=3 STORAGE=memory
TARGETS_ARG="direct nginx rotator"
while (($#)); do
  case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --storage) STORAGE=$2; shift 2 ;;
    --targets) TARGETS_ARG=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
[[ $STORAGE =~ ^(memory|redis|cluster)$ ]] || die "--storage must be memory, redis or cluster, not '$STORAGE'"
read -ra TARGETS <<<"$TARGETS_ARG"
((${#TARGETS[@]})) || die "--targets names no target"
for t in "${TARGETS[@]}"; do
  [[ $t =~ ^(direct|nginx|rotator|rotator-redis|rotator-cluster)$ ]] \
    || die "unknown target '$t' (direct nginx rotator rotator-redis rotator-cluster)"
done
has() { [[ " ${TARGETS[*]} " == *" $1 "* ]]; }

need nginx wrk curl
pick_java
build_jars

# The store each proxy target runs on, and the Redis servers started for them.
declare -A STORE_OF=([rotator]=$STORAGE [rotator-redis]=redis [rotator-cluster]=cluster)
for t in "${TARGETS[@]}"; do [[ -z ${STORE_OF[$t]:-} ]] || start_store "${STORE_OF[$t]}"; done

UP_PORT=$(free_port)
start_fast_upstream "$UP_PORT"
declare -A BASE=([direct]="http://127.0.0.1:$UP_PORT") PID_OF RSS_IDLE
for t in "${TARGETS[@]}"; do
  [[ $t == direct ]] && continue
  port=$(free_port); BASE[$t]="http://127.0.0.1:$port"
  if [[ $t == nginx ]]; then start_nginx_proxy "$port" "$UP_PORT"; else
    write_proxy_config "$WORK/$t.yaml" "$port" "$UP_PORT" "$KEYS" 512 "" "${STORE_URI[${STORE_OF[$t]}]}"
    start_proxy "$WORK/$t.yaml" "$port"
    check_store "$WORK/$t.yaml" "${STORE_OF[$t]}"
    PID_OF[$t]=$PROXY_PID RSS_IDLE[$t]=$(proc_field "$PROXY_PID" VmRSS)
  fi
done
for t in "${TARGETS[@]}"; do
  if [[ $t == direct ]]; then check_target "$t" "${BASE[$t]}"; else check_target "$t" "${BASE[$t]}" proxy; fi
done

declare -A RPS P50 P99 ERR CALLS SENT
log "warm-up $WARMUP per target at 64 connections"
for t in "${TARGETS[@]}"; do measure "warm-up $t" "${BASE[$t]}$GC_PATH" 64 "$WARMUP" "$THREADS"; done

for ((r = 1; r <= ROUNDS; r++)); do
  for c in $CONNS; do
    for t in "${TARGETS[@]}"; do
      ports=${STORE_PORTS[${STORE_OF[$t]:-memory}]}
      # shellcheck disable=SC2086
      [[ -z $ports ]] || before=$(redis_calls $ports)
      measure "$t,$c,$r" "${BASE[$t]}$GC_PATH" "$c" "$DURATION" "$THREADS"
      # shellcheck disable=SC2086
      [[ -z $ports ]] || { CALLS[$t,$c]=$(( ${CALLS[$t,$c]:-0} + $(redis_calls $ports) - before ))
                           SENT[$t,$c]=$(( ${SENT[$t,$c]:-0} + LAST_REQS )); }
    done
  done
done
declare -A HWM THREADS_NOW
for t in "${!PID_OF[@]}"; do
  HWM[$t]=$(proc_field "${PID_OF[$t]}" VmHWM); THREADS_NOW[$t]=$(proc_field "${PID_OF[$t]}" Threads)
done

# median VALUES...: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# per_round EXPR T C [B]: EXPR (awk, over a, b and d) of target T (a) against B (b, default nginx)
# and direct (d), one value per round.
per_round() {
  local r
  for ((r = 1; r <= ROUNDS; r++)); do
    awk -v a="${RPS[$2,$3,$r]}" -v b="${RPS[${4:-nginx},$3,$r]}" -v d="${RPS[direct,$3,$r]:-0}" \
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
stores=(); for t in "${TARGETS[@]}"; do
  [[ -n ${PID_OF[$t]:-} ]] && stores+=("$t on ${STORE_URI[${STORE_OF[$t]}]:-memory:}"); done
echo "targets: ${TARGETS[*]}${stores[*]:+ (stores: $(IFS=,; echo "${stores[*]}" | sed 's/,/, /g'))}"
report_context
echo
echo "Medians over the rounds (errors: the sum; × rotator: the median of each round's ratio to rotator, each round's in brackets; Redis cmds/req: commands the store's servers executed per request over all rounds, their count in brackets; the INFO calls that count them included):"
echo
echo "| target | connections | req/s | × rotator | p50 ms | p99 ms | errors | Redis cmds/req |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for c in $CONNS; do for t in "${TARGETS[@]}"; do
  vs="-" cmds="-"
  if has rotator; then
    mapfile -t v < <(per_round 'a / b' "$t" "$c" rotator)
    vs="$(median "${v[@]}") (${v[*]})"
  fi
  [[ -n ${CALLS[$t,$c]:-} ]] \
    && cmds=$(awk -v a="${CALLS[$t,$c]}" -v b="${SENT[$t,$c]}" 'BEGIN { printf "%.3f (%d)", a / b, a }')
  echo "| $t | $c | ${M_RPS[$t,$c]} | $vs | $(ms "${M_P50[$t,$c]}") | $(ms "${M_P99[$t,$c]}") | ${M_ERR[$t,$c]} | $cmds |"
done; done
echo
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
if has nginx && has rotator; then
  echo "rotator / nginx in each round:"
  for c in $CONNS; do
    echo "- $c connections: $(per_round 'a / b' rotator "$c" | tr '\n' ' ')"
  done
  echo
fi
if has nginx && has direct && has rotator && [[ " $CONNS " == *" 64 "* ]]; then
  mapfile -t ratios < <(per_round 'a / b' rotator 64)
  mapfile -t ngx < <(per_round 'b / d' nginx 64)
  ratio=$(median "${ratios[@]}")
  lo=$(printf '%s\n' "${ratios[@]}" | sort -g | head -n 1); hi=$(printf '%s\n' "${ratios[@]}" | sort -g | tail -n 1)
  echo "- throughput at 64 connections: rotator/nginx median $ratio over $ROUNDS rounds (range $lo-$hi; target >= 0.80: $(verdict "$ratio >= 0.8")); nginx/direct median $(median "${ngx[@]}")"
fi
if has direct && has rotator && [[ " $CONNS " == *" 16 "* ]]; then
  a50=$((M_P50[rotator,16] - M_P50[direct,16])); a99=$((M_P99[rotator,16] - M_P99[direct,16]))
  signed_ms() { awk -v u="$1" 'BEGIN { printf "%+.2f", u / 1000 }'; }
  echo "- added latency at 16 connections vs direct (medians): p50 $(signed_ms $a50) ms (target <= 0.5: $(verdict "$a50 <= 500")), p99 $(signed_ms $a99) ms (target <= 5: $(verdict "$a99 <= 5000"))"
fi
for t in "${TARGETS[@]}"; do
  [[ -n ${PID_OF[$t]:-} ]] || continue
  echo "- $t with $KEYS keys: peak RSS (VmHWM) $((HWM[$t] / 1024)) MB (target <= 150: $(verdict "${HWM[$t]} <= 153600")); idle after start $((RSS_IDLE[$t] / 1024)) MB; threads at end ${THREADS_NOW[$t]}"
done
total_err=0; for c in $CONNS; do for t in "${TARGETS[@]}"; do total_err=$((total_err + M_ERR[$t,$c])); done; done
echo "- wrk errors (socket + non-2xx) over all runs: $total_err"
