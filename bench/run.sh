#!/usr/bin/env bash
# actiongate benchmark: one machine, loopback only. See docs/performance.md.
#
#   bash bench/run.sh
#
# Cases (wrk -t2 -c32, same duration, interleaved, ROUNDS rounds; medians):
#   a direct        wrk → upstream
#   b nginx         wrk → nginx (proxy_pass, keepalive 64, adds Authorization) → upstream
#   c go-proxy      wrk → bare httputil.ReverseProxy (adds Authorization) → upstream
#   d node-proxy    wrk → Node http-proxy (adds Authorization) → upstream
#   e ag-proxy-key  wrk → actiongate /v1/proxy, api_key action → upstream
#   f ag-proxy-oauth wrk → actiongate /v1/proxy, oauth action, signed-in user → upstream
#   g ag-invoke     wrk (POST, Lua) → actiongate /v1/actions/{id}/invoke → upstream
# then: p99 added latency over direct at half of each actiongate case's max
# rate; a refresh storm (1,000 concurrent calls on an expired token); and the
# scale case (invoke latency with 1,000 and with 1,000,000 connection rows).
#
# Settings (environment): DURATION (10s), ROUNDS (3), CONNS (32), THREADS (2),
# SCALE_ROWS (1000000), SKIP_SCALE=1, SKIP_INSTALL=1, PROFILE=1 (CPU profiles
# of actiongate per case, in the output folder), OUT (output folder).
# Ports 9101–9106 on 127.0.0.1 must be free.
set -euo pipefail

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
SCALE_ROWS=${SCALE_ROWS:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/actiongate-bench.XXXXXX)
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT"

P_UP=9101 P_NGINX=9102 P_GO=9103 P_NODE=9104 P_AG=9105 P_PPROF=9106
UP=http://127.0.0.1:$P_UP
AG=http://127.0.0.1:$P_AG
UPSTREAM_TOKEN=bench-upstream-token

log() { printf '==> %s\n' "$*" >&2; }

# --- processes ---------------------------------------------------------------
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [[ -z ${KEEP_WORK:-} ]]; then
		# keep the results
		find "$WORK" -mindepth 1 -maxdepth 1 ! -name out -exec rm -rf {} + 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # host:port
	local i
	for i in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "nothing listens on $1" >&2
	return 1
}

# --- tools ---------------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need_apt+=(nginx)
if ((${#need_apt[@]})) && [[ -z ${SKIP_INSTALL:-} ]]; then
	log "installing ${need_apt[*]} (apt-get)"
	SUDO=""
	[[ $(id -u) -ne 0 ]] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
	# Debian's package starts a system nginx on port 80 where it can; the
	# benchmark runs its own.
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v go >/dev/null || { echo "go is required" >&2; exit 1; }

log "building (go build)"
(cd "$ROOT" && go build -o "$WORK/actiongate" ./cmd/actiongate &&
	go build -o "$WORK/upstream" ./bench/upstream &&
	go build -o "$WORK/goproxy" ./bench/goproxy &&
	go build -o "$WORK/benchctl" ./bench/benchctl)

NODE_OK=""
if command -v node >/dev/null && command -v npm >/dev/null; then
	log "installing http-proxy (npm) into $WORK/node"
	mkdir -p "$WORK/node"
	if (cd "$WORK/node" && npm install --silent --no-audit --no-fund --no-save http-proxy@1.18.1 >"$WORK/npm.log" 2>&1); then
		NODE_OK=1
	else
		log "npm install http-proxy failed (see below): skipping the Node case"
		tail -5 "$WORK/npm.log" >&2 || true
	fi
else
	log "node/npm not found: skipping the Node case"
fi

# --- servers -------------------------------------------------------------------
"$WORK/upstream" -addr 127.0.0.1:$P_UP 2>"$WORK/upstream.log" &
PIDS+=($!)

mkdir -p "$WORK/nginx/tmp"
NGINX_USER=""
[[ $(id -u) -eq 0 ]] && NGINX_USER="user root root;"
cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
daemon off;
master_process on;
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    keepalive_requests 1000000;
    upstream api { server 127.0.0.1:$P_UP; keepalive 64; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$P_NGINX;
        location / {
            proxy_pass http://api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer $UPSTREAM_TOKEN";
        }
    }
}
EOF
"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" &
PIDS+=($!)

"$WORK/goproxy" -addr 127.0.0.1:$P_GO -upstream "$UP" -token "$UPSTREAM_TOKEN" 2>"$WORK/goproxy.log" &
PIDS+=($!)

if [[ -n $NODE_OK ]]; then
	NODE_PATH="$WORK/node/node_modules" node "$ROOT/bench/nodeproxy.js" $P_NODE "$UP" "$UPSTREAM_TOKEN" >"$WORK/node.log" 2>&1 &
	PIDS+=($!)
fi

export ACTIONGATE_MASTER_KEY
ACTIONGATE_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export BENCH_ADMIN_TOKEN
BENCH_ADMIN_TOKEN=bench-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
AG_PID=""
start_actiongate() {
	ACTIONGATE_ADDR=127.0.0.1:$P_AG ACTIONGATE_DATA_DIR="$WORK/data" ACTIONGATE_PUBLIC_URL=$AG \
		ACTIONGATE_ADMIN_TOKEN=$BENCH_ADMIN_TOKEN ACTIONGATE_USER_RATE=0 ACTIONGATE_ALLOW_PRIVATE_NETWORKS=1 \
		ACTIONGATE_LOG_LEVEL=warn ACTIONGATE_PPROF_ADDR=127.0.0.1:$P_PPROF \
		"$WORK/actiongate" serve >>"$WORK/actiongate.log" 2>&1 &
	AG_PID=$!
	PIDS+=("$AG_PID")
	wait_port 127.0.0.1:$P_AG
}
start_actiongate

wait_port 127.0.0.1:$P_UP
wait_port 127.0.0.1:$P_NGINX
wait_port 127.0.0.1:$P_GO
[[ -n $NODE_OK ]] && wait_port 127.0.0.1:$P_NODE

log "setting up actions and signing in the bench user"
eval "$("$WORK/benchctl" setup -gw "$AG" -upstream "$UP")"
echo "actions: api_key $APIKEY_ACTION, oauth $OAUTH_ACTION" >&2

# --- cases -------------------------------------------------------------------------
CASES=(a b c)
[[ -n $NODE_OK ]] && CASES+=(d)
CASES+=(e f g)
declare -A NAME=([a]=direct [b]=nginx [c]=go-proxy [d]=node-proxy [e]=ag-proxy-key [f]=ag-proxy-oauth [g]=ag-invoke)

export BENCH_API_TOKEN=$BENCH_ADMIN_TOKEN
export BENCH_INVOKE_BODY='{"operation":"getItem","arguments":{"id":"42"}}'
wrk_case() { # case duration
	local c=$1 d=$2
	case $c in
	a) wrk -t"$THREADS" -c"$CONNS" -d"$d" --latency -H "Authorization: Bearer $UPSTREAM_TOKEN" "$UP/items/42" ;;
	b) wrk -t"$THREADS" -c"$CONNS" -d"$d" --latency "http://127.0.0.1:$P_NGINX/items/42" ;;
	c) wrk -t"$THREADS" -c"$CONNS" -d"$d" --latency "http://127.0.0.1:$P_GO/items/42" ;;
	d) wrk -t"$THREADS" -c"$CONNS" -d"$d" --latency "http://127.0.0.1:$P_NODE/items/42" ;;
	e) wrk -t"$THREADS" -c"$CONNS" -d"$d" --latency -H "Authorization: Bearer $BENCH_ADMIN_TOKEN" "$AG/v1/proxy/$APIKEY_ACTION/items/42" ;;
	f) wrk -t"$THREADS" -c"$CONNS" -d"$d" --latency -H "Authorization: Bearer $BENCH_ADMIN_TOKEN" -H "X-Actiongate-User: $BENCH_USER" "$AG/v1/proxy/$OAUTH_ACTION/items/42" ;;
	g) wrk -t"$THREADS" -c"$CONNS" -d"$d" --latency -s "$ROOT/bench/invoke.lua" "$AG/v1/actions/$APIKEY_ACTION/invoke" ;;
	esac
}

# to_ms "1.23ms" → 1.230
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f", n }'
}

declare -A RPS P50 P99
for c in "${CASES[@]}"; do RPS[$c]=""; P50[$c]=""; P99[$c]=""; done

log "warm-up (2s per case)"
for c in "${CASES[@]}"; do wrk_case "$c" 2s >/dev/null; done

for r in $(seq 1 "$ROUNDS"); do
	for c in "${CASES[@]}"; do
		f="$OUT/wrk-$c-${NAME[$c]}-round$r.txt"
		prof=""
		if [[ -n ${PROFILE:-} && $r -eq 1 && $c =~ [efg] ]]; then
			secs=${DURATION%s}
			curl -s -o "$OUT/cpu-${NAME[$c]}.pprof" "http://127.0.0.1:$P_PPROF/debug/pprof/profile?seconds=$((secs > 2 ? secs - 2 : 1))" &
			prof=$!
		fi
		wrk_case "$c" "$DURATION" >"$f"
		[[ -n $prof ]] && wait "$prof"
		rps=$(awk '/^Requests\/sec:/ {print $2}' "$f")
		p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$f")")
		p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$f")")
		if grep -q "Non-2xx" "$f"; then
			log "WARNING: ${NAME[$c]} had non-2xx answers: $(grep Non-2xx "$f")"
		fi
		RPS[$c]+="$rps " P50[$c]+="$p50 " P99[$c]+="$p99 "
		printf '    round %d %-15s %10s req/s  p50 %7s ms  p99 %7s ms\n' "$r" "${NAME[$c]}" "$rps" "$p50" "$p99" >&2
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A M_RPS M_P50 M_P99
for c in "${CASES[@]}"; do
	M_RPS[$c]=$(echo "${RPS[$c]}" | median)
	M_P50[$c]=$(echo "${P50[$c]}" | median)
	M_P99[$c]=$(echo "${P99[$c]}" | median)
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

{
	echo
	echo "Results: median of $ROUNDS rounds, wrk -t$THREADS -c$CONNS -d$DURATION, $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(go version | awk '{print $3}')"
	echo
	echo "| case | req/s | p50 ms | p99 ms | ÷ nginx (b) | ÷ go-proxy (c) | ÷ node (d) |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for c in "${CASES[@]}"; do
		node_ratio="-"
		[[ -n $NODE_OK ]] && node_ratio=$(ratio "${M_RPS[$c]}" "${M_RPS[d]}")
		printf '| %s %s | %.0f | %s | %s | %s | %s | %s |\n' "$c" "${NAME[$c]}" "${M_RPS[$c]}" "${M_P50[$c]}" "${M_P99[$c]}" \
			"$(ratio "${M_RPS[$c]}" "${M_RPS[b]}")" "$(ratio "${M_RPS[$c]}" "${M_RPS[c]}")" "$node_ratio"
	done
} | tee "$OUT/results.md"

# --- latency at half load -------------------------------------------------------------
# Each actiongate case runs paced at about half its maximum rate (every
# connection waits a fixed delay after each answer: bench/pace.lua), and so
# does direct with the same delay; the difference of the p99s is what the
# gateway adds.
{
	echo
	echo "p99 added latency over direct at about half of each case's max rate (wrk -t$THREADS -c$CONNS -d$DURATION, paced):"
	echo
	echo "| case | delay ms | req/s | p50 ms | p99 ms | direct req/s | direct p99 ms | added p99 ms |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
} | tee -a "$OUT/results.md"
paced() { # delay method body headers url → "rps p50 p99"
	local f
	f=$(mktemp "$WORK/paced.XXXX")
	BENCH_DELAY_MS=$1 BENCH_METHOD=$2 BENCH_BODY=$3 BENCH_HEADERS=$4 \
		wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$ROOT/bench/pace.lua" "$5" >"$f"
	grep -q "Non-2xx" "$f" && log "WARNING: non-2xx answers in a paced run of $5"
	echo "$(awk '/^Requests\/sec:/ {print $2}' "$f") $(to_ms "$(awk '$1 == "50%" {print $2}' "$f")") $(to_ms "$(awk '$1 == "99%" {print $2}' "$f")")"
	cat "$f" >>"$OUT/paced.txt"
}
for c in e f g; do
	# delay so that CONNS connections make about half the max rate
	delay=$(awk -v r="${M_RPS[$c]}" -v n="$CONNS" 'BEGIN { d = n * 1000 / (r / 2); printf "%d", (d < 1) ? 1 : d + 0.5 }')
	read -r drps _ d99 <<<"$(paced "$delay" GET "" "Authorization: Bearer $UPSTREAM_TOKEN" "$UP/items/42")"
	case $c in
	e) out=$(paced "$delay" GET "" "Authorization: Bearer $BENCH_ADMIN_TOKEN" "$AG/v1/proxy/$APIKEY_ACTION/items/42") ;;
	f) out=$(paced "$delay" GET "" "Authorization: Bearer $BENCH_ADMIN_TOKEN|X-Actiongate-User: $BENCH_USER" "$AG/v1/proxy/$OAUTH_ACTION/items/42") ;;
	g) out=$(paced "$delay" POST "$BENCH_INVOKE_BODY" "Authorization: Bearer $BENCH_ADMIN_TOKEN|Content-Type: application/json" "$AG/v1/actions/$APIKEY_ACTION/invoke") ;;
	esac
	read -r grps g50 g99 <<<"$out"
	printf '| %s %s | %s | %.0f | %s | %s | %.0f | %s | %s |\n' "$c" "${NAME[$c]}" "$delay" "$grps" "$g50" "$g99" "$drps" "$d99" \
		"$(awk -v a="$g99" -v b="$d99" 'BEGIN { printf "%.3f", a - b }')" | tee -a "$OUT/results.md"
done

# --- refresh storm ---------------------------------------------------------------------
log "refresh storm"
storm=$("$WORK/benchctl" storm -gw "$AG" -upstream "$UP" -n 1000)
{
	echo
	echo "$storm" | grep '^storm:'
} | tee -a "$OUT/results.md"

# --- scale: 1M connection rows ----------------------------------------------------------
if [[ -z ${SKIP_SCALE:-} ]]; then
	log "scale: invoke latency with 1,000 connection rows"
	DB="$WORK/data/actiongate.db"
	"$WORK/benchctl" insert -db "$DB" -action "$OAUTH_ACTION" -from 0 -to 1000
	before_hot=$("$WORK/benchctl" latency -gw "$AG" -action "$OAUTH_ACTION" -user "$BENCH_USER" -n 2000 -label "1K rows, one user")
	before_cold=$("$WORK/benchctl" latency -gw "$AG" -action "$OAUTH_ACTION" -users 1000 -n 1000 -label "1K rows, distinct users")
	log "scale: inserting $((SCALE_ROWS - 1000)) more rows"
	"$WORK/benchctl" insert -db "$DB" -action "$OAUTH_ACTION" -from 1000 -to "$SCALE_ROWS"
	after_hot=$("$WORK/benchctl" latency -gw "$AG" -action "$OAUTH_ACTION" -user "$BENCH_USER" -n 2000 -label "$SCALE_ROWS rows, one user")
	after_cold=$("$WORK/benchctl" latency -gw "$AG" -action "$OAUTH_ACTION" -users "$SCALE_ROWS" -n 1000 -label "$SCALE_ROWS rows, distinct users")
	{
		echo
		echo "scale (sequential oauth invokes, one connection):"
		printf '    %s\n' "$before_hot" "$before_cold" "$after_hot" "$after_cold"
	} | tee -a "$OUT/results.md"
fi

curl -s "$AG/metrics" >"$OUT/metrics.txt" || true
log "results in $OUT (results.md, wrk outputs${PROFILE:+, CPU profiles})"
