# Shared by run.sh, engines.sh, sse.sh and soak.sh (sourced, not run). Everything binds 127.0.0.1;
# every process started here is recorded in PIDS and stopped, and WORK removed, on exit.

LOAD_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LOAD_DIR/../.." && pwd)
# PROXY_JAR may name another build of the proxy (a jar kept from an earlier commit, to compare).
PROXY_JAR=${PROXY_JAR:-$REPO/gemini-rotator-standalone/target/gemini-rotator-standalone.jar}
BENCH_JAR=$REPO/benchmarks/target/benchmarks.jar
FIXTURES=$REPO/gemini-rotator-test-support/src/main/resources/fixtures
# The JVM flags a production user would run the proxy with (README "Running the proxy"): a small,
# capped heap (the proxy keeps little: key state, and request bodies buffered while in flight)
# that starts at 32 MB and grows only when needed, with a fixed 20 MB young generation (about
# 4.4 KB is allocated per request: at 50,000 req/s the default third of a 32 MB heap filled every
# 40 ms, and each pause stalls every connection; in one side-by-side run -Xmn20m carried 6% more
# req/s at 64 connections for 7 MB more peak RSS, -Xmn40m 9% for 25 MB), the serial collector (G1's own structures added
# ~40-90 MB of RSS here for no gain at this heap size; the JVM picks serial by itself in a
# container under 2 CPUs or 1,792 MB), C2 only (-TieredCompilation: the C1 tier's code and the
# compiler arenas were 15-25 MB of peak RSS; steady-state throughput measured the same, warm-up
# is slower), 512 KB thread stacks, a metaspace cap, and exit on OOM so a supervisor restarts
# it. MALLOC_ARENA_MAX=2 keeps glibc from giving each busy thread its own malloc arena.
# Override with PROXY_JAVA_OPTS and MALLOC_ARENA_MAX.
# On Java 25+ (see pick_java) also the flags that give Netty back sun.misc.Unsafe, as README says.
PROXY_JAVA_OPTS_GIVEN=${PROXY_JAVA_OPTS:+given}
PROXY_JAVA_OPTS=${PROXY_JAVA_OPTS:--Xms32m -Xmx128m -Xmn20m -Xss512k -XX:+UseSerialGC -XX:-TieredCompilation -XX:MaxMetaspaceSize=96m -XX:+ExitOnOutOfMemoryError}
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
PIDS=()
WORK=$(mktemp -d /tmp/gemini-load.XXXXXX)
chmod 755 "$WORK"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ ${KEEP_WORK:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Installs the Debian packages behind the named commands when they are missing.
need() {
  local missing=() cmd
  for cmd in "$@"; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  local sudo=""; [[ $EUID -ne 0 ]] && sudo=sudo
  $sudo apt-get install -y -q "${missing[@]}" >"$WORK/apt.log" 2>&1 \
    || { $sudo apt-get update -q >>"$WORK/apt.log" 2>&1 \
         && $sudo apt-get install -y -q "${missing[@]}" >>"$WORK/apt.log" 2>&1; } \
    || die "apt-get install ${missing[*]} failed; see $WORK/apt.log"
  for cmd in "$@"; do command -v "$cmd" >/dev/null || die "$cmd still missing after install"; done
}

# JAVA_HOME if set, else the newest JDK under /usr/lib/jvm (the proxy uses virtual threads from
# Java 21 on), else java on the PATH.
pick_java() {
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then JAVA=$JAVA_HOME/bin/java; else
    local best="" v d
    for d in /usr/lib/jvm/*/; do
      [[ -x $d/bin/java && -x $d/bin/jcmd ]] || continue
      v=$("$d/bin/java" -XshowSettings:properties -version 2>&1 \
          | awk -F'= ' '/java.specification.version/ {print $2}')
      if [[ -n $v && ( -z $best || $v -gt ${best%%:*} ) ]]; then best="$v:$d"; fi
    done
    if [[ -n $best ]]; then JAVA=${best#*:}bin/java; else JAVA=$(command -v java); fi
  fi
  JCMD=$(dirname "$JAVA")/jcmd
  JAVA_VERSION=$("$JAVA" -version 2>&1 | head -n 1)
  local major
  major=$("$JAVA" -XshowSettings:properties -version 2>&1 \
          | awk -F'= ' '/java.specification.version/ {print $2}')
  if [[ -z $PROXY_JAVA_OPTS_GIVEN && ${major:-0} -ge 25 ]]; then
    PROXY_JAVA_OPTS="$PROXY_JAVA_OPTS --sun-misc-unsafe-memory-access=allow -Dio.netty.noUnsafe=false"
  fi
  log "java: $JAVA ($JAVA_VERSION)"
}

build_jars() {
  local modules=()
  [[ -f $PROXY_JAR ]] || modules+=(gemini-rotator-standalone)
  [[ -f $BENCH_JAR || ${1:-} != with-bench ]] || modules+=(benchmarks)
  ((${#modules[@]} == 0)) && return 0
  log "building ${modules[*]}"
  (cd "$REPO" && mvn -B -ntp -q package -DskipTests -pl "$(IFS=,; echo "${modules[*]}")" -am) \
    || die "build failed"
}

# A port in 20000-32767 (below the ephemeral range) that nothing answers on.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12768))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port"
}

wait_port() { # port seconds
  local i
  for i in $(seq 1 $((${2:-30} * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  die "nothing listening on 127.0.0.1:$1 after ${2:-30}s"
}

# nginx_conf DIR PORT SERVER-BODY [HTTP-EXTRA]: an nginx.conf for a private prefix DIR.
nginx_conf() {
  local dir=$1 port=$2 body=$3 extra=${4:-}
  mkdir -p "$dir/tmp"
  local user=""; [[ $EUID -eq 0 ]] && user="user root root;"
  cat >"$dir/nginx.conf" <<CONF
$user
worker_processes ${NGINX_WORKERS:-auto};
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 10000; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  types { application/json json; }
  default_type application/json;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  $extra
  server {
    listen 127.0.0.1:$port reuseport;
$body
  }
}
CONF
}

start_nginx() { # DIR PORT
  nginx -t -q -p "$1" -e "$1/error.log" -c "$1/nginx.conf" || die "bad nginx config in $1"
  nginx -p "$1" -e "$1/error.log" -c "$1/nginx.conf" -g 'daemon off;' &
  PIDS+=($!)
  wait_port "$2" 10
}

# The fixture's generate-content body, padded with trailing spaces (valid JSON) to 1,024 bytes.
fixed_body() {
  local f=$FIXTURES/gemini-responses/generate-content.json body
  body=$(cat "$f")
  [[ $body == *[\'\$\\]* ]] && die "$f has a ' \$ or \\ that an nginx return string would mangle"
  printf '%s' "$body"
  printf '%*s' $((1024 - ${#body})) ''
}

# write_proxy_config FILE PORT UPSTREAM-PORT KEYS [MAX-UPSTREAM-CONNECTIONS [TRANSPORT [STORAGE]]]
# TRANSPORT (server.transport) defaults to PROXY_TRANSPORT, else the proxy's own default (auto).
# STORAGE (a storage URI, see start_redis) defaults to PROXY_STORAGE, else the proxy's (memory:).
write_proxy_config() {
  local file=$1 port=$2 up=$3 keys=$4 maxconn=${5:-512} transport=${6:-${PROXY_TRANSPORT:-}} i
  local storage=${7:-${PROXY_STORAGE:-}}
  {
    echo "keys:"
    for ((i = 1; i <= keys; i++)); do printf '  - AIzaSyBench%06dxxxxxxxxxxxxxxxxxxxxxxxxx\n' "$i"; done
    echo "server: {host: 127.0.0.1, port: $port${transport:+, transport: $transport}}"
    echo "upstream: {base-url: \"http://127.0.0.1:$up\", max-connections: $maxconn}"
    [[ -z $storage ]] || echo "storage: \"$storage\""
  } >"$file"
}

# A port in 20000-22767 whose cluster bus port (+10000) is free too, both below the ephemeral range.
free_port_pair() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 2768))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null \
       && ! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 10000))") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port pair"
}

# start_redis_node NAME PORT [ARGS...]: a throwaway redis-server on 127.0.0.1 (no persistence, its
# files in $WORK/NAME), stopped on exit with everything else.
start_redis_node() {
  local name=$1 port=$2; shift 2
  mkdir -p "$WORK/$name"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$WORK/$name" --save "" --appendonly no \
    --protected-mode yes "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  wait_port "$port" 10
}

# start_redis: one redis-server on a free port; sets REDIS_URI (redis://127.0.0.1:PORT) and
# REDIS_PORTS (the port, for redis_calls).
start_redis() {
  local port; port=$(free_port)
  start_redis_node redis "$port"
  REDIS_URI="redis://127.0.0.1:$port" REDIS_PORTS="$port"
  log "redis-server on 127.0.0.1:$port"
}

# start_redis_cluster: a 3-master Redis Cluster without replicas (redis-cli --cluster create);
# sets CLUSTER_URI (redis-cluster://...) and CLUSTER_PORTS once every node says cluster_state:ok.
start_redis_cluster() {
  local ports=() nodes=() p i
  for i in 1 2 3; do
    p=$(free_port_pair); ports+=("$p"); nodes+=("127.0.0.1:$p")
    start_redis_node "cluster-$i" "$p" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 3000
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes \
    >"$WORK/cluster-create.log" 2>&1 || die "redis-cli --cluster create failed: $(tail -n 20 "$WORK/cluster-create.log")"
  for p in "${ports[@]}"; do
    for i in $(seq 1 300); do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && break
      ((i < 300)) || die "cluster node 127.0.0.1:$p not cluster_state:ok after 30 s"
      sleep 0.1
    done
  done
  CLUSTER_URI="redis-cluster://$(IFS=,; echo "${nodes[*]}")" CLUSTER_PORTS="${ports[*]}"
  log "redis cluster of 3 masters on ${nodes[*]}"
}

# start_store memory|redis|cluster: the store a proxy keeps its state in. Starts the Redis server(s)
# once per kind (a second call reuses them) and sets STORE_URI[KIND] (the proxy's storage URI,
# empty for memory) and STORE_PORTS[KIND] (the Redis ports, for redis_calls).
declare -A STORE_URI=([memory]="") STORE_PORTS=([memory]="")
start_store() {
  [[ -n ${STORE_URI[$1]+set} ]] && return 0
  need redis-server redis-cli
  case $1 in
    redis) start_redis; STORE_URI[redis]=$REDIS_URI STORE_PORTS[redis]=$REDIS_PORTS ;;
    cluster) start_redis_cluster; STORE_URI[cluster]=$CLUSTER_URI STORE_PORTS[cluster]=$CLUSTER_PORTS ;;
    *) die "unknown store '$1' (memory, redis or cluster)" ;;
  esac
}

# check_store CONFIG KIND: a proxy started with CONFIG and meant to run on a Redis KIND (redis or
# cluster) logged that its Redis store connected, so a measurement never silently runs on memory.
check_store() {
  [[ $2 == memory ]] && return 0
  grep -q 'Redis store .* connected' "$WORK/$(basename "$1" .yaml).log" \
    || die "the proxy for $1 did not connect to its $2 store: $(tail -n 5 "$WORK/$(basename "$1" .yaml).log")"
}

# redis_calls PORTS...: the commands the Redis servers on PORTS have executed in total (INFO
# commandstats, the sum of calls= over every command, the INFO calls themselves included).
redis_calls() {
  local p
  for p in "$@"; do redis-cli -p "$p" info commandstats; done \
    | sed -n 's/.*:calls=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s + 0}'
}

start_proxy() { # CONFIG PORT; logs to $WORK/<config name>.log
  # shellcheck disable=SC2086
  "$JAVA" $PROXY_JAVA_OPTS -jar "$PROXY_JAR" --config "$1" >"$WORK/$(basename "$1" .yaml).log" 2>&1 &
  PROXY_PID=$!
  PIDS+=($PROXY_PID)
  wait_port "$2" 60
  curl -fsS "http://127.0.0.1:$2/health" >/dev/null || die "proxy /health failed"
  log "proxy pid $PROXY_PID on 127.0.0.1:$2, transport $(proxy_transport "$2") (MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX $PROXY_JAVA_OPTS)"
}

# The socket transport a proxy on PORT runs on, from its /health/detailed.
proxy_transport() {
  curl -fsS "http://127.0.0.1:$1/health/detailed" | sed -n 's/.*"transport":"\([a-z_]*\)".*/\1/p'
}

proc_field() { # PID FIELD -> value (kB or count), 0 when the process is gone
  awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}
proc_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# Heap used after a full GC, in MB (jcmd from the proxy's JDK).
heap_after_gc_mb() {
  "$JCMD" "$1" GC.run >/dev/null
  "$JCMD" "$1" GC.heap_info | awk '
    /garbage-first heap|def new generation|tenured generation|DefNew|Tenured|PSYoungGen|ParOldGen/ {
      for (i = 1; i <= NF; i++) if ($i == "used") { v = $(i + 1); sub(/K,?$/, "", v); s += v } }
    END { printf "%.1f\n", s / 1024 }'
}

GC_PATH=/v1beta/models/gemini-2.5-flash:generateContent
ECHO_KEY_PATH=/v1beta/echo-key

# start_fast_upstream PORT: the fake Gemini, nginx answering every request with fixed_body and
# ECHO_KEY_PATH with the x-goog-api-key it received (so check_target can see what a proxy sent).
start_fast_upstream() {
  local body; body=$(fixed_body)
  nginx_conf "$WORK/upstream" "$1" "    location = $ECHO_KEY_PATH { return 200 '\$http_x_goog_api_key'; }
    location / { return 200 '$body'; }"
  start_nginx "$WORK/upstream" "$1"
}

# start_nginx_proxy PORT UPSTREAM-PORT: a plain nginx reverse proxy, the yardstick of issue 5
# (proxy_pass with keepalive, injecting one x-goog-api-key).
start_nginx_proxy() {
  nginx_conf "$WORK/nginx-proxy" "$1" "    location / {
      proxy_pass http://gemini;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header x-goog-api-key AIzaSyBench000001xxxxxxxxxxxxxxxxxxxxxxxxx;
    }" "upstream gemini { server 127.0.0.1:$2; keepalive 256; keepalive_requests 10000000; }"
  start_nginx "$WORK/nginx-proxy" "$1"
}

# check_target NAME BASE-URL [proxy]: a generateContent POST answers 200 with the fixture body;
# with "proxy", the upstream also received one of the benchmark keys, not the client's.
check_target() {
  local name=$1 base=$2 out
  out=$(curl -sS -o "$WORK/check.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -d '{"contents":[{"parts":[{"text":"hi"}]}]}' "$base$GC_PATH")
  [[ $out == 200 ]] && grep -q candidates "$WORK/check.json" \
    || die "$name answered $out: $(head -c 300 "$WORK/check.json")"
  [[ ${3:-} == proxy ]] || return 0
  out=$(curl -sS -H 'x-goog-api-key: client-key' "$base$ECHO_KEY_PATH")
  [[ $out =~ ^AIzaSyBench[0-9]{6}x+$ ]] || die "$name sent the upstream the key '$out', not a pool key"
}

# measure ID URL CONNECTIONS DURATION WRK-THREADS: one wrk run (post.lua); sets RPS[ID], P50[ID]
# and P99[ID] (microseconds) and ERR[ID] (socket errors + non-2xx) in the caller's arrays, and
# LAST_REQS (the requests it completed).
measure() {
  wrk -t"$5" -c"$3" -d"$4" --latency -s "$LOAD_DIR/post.lua" "$2" >"$WORK/wrk.out" 2>&1 \
    || die "wrk failed: $(cat "$WORK/wrk.out")"
  local r; r=$(grep '^WRK_RESULT' "$WORK/wrk.out") || die "no WRK_RESULT: $(cat "$WORK/wrk.out")"
  LAST_REQS=$(wrk_field requests "$r")
  RPS[$1]=$(( LAST_REQS * 1000000 / $(wrk_field duration_us "$r") ))
  P50[$1]=$(wrk_field p50_us "$r"); P99[$1]=$(wrk_field p99_us "$r")
  ERR[$1]=$(( $(wrk_field errors "$r") + $(wrk_field non2xx "$r") ))
  log "$1: ${RPS[$1]} req/s p50 ${P50[$1]} us p99 ${P99[$1]} us errors ${ERR[$1]}"
}
wrk_field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }

# The lines under a report's title: commit, JDK, JVM flags, machine and load average.
report_context() {
  echo "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); proxy jar $PROXY_JAR; $JAVA_VERSION; JVM flags: MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX $PROXY_JAVA_OPTS"
  echo "$(nproc) CPUs, load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
}
