#!/usr/bin/env bash
# Router overhead against nginx, in one run: the same fixed-reply backend (bench/e2e/fixed_backend, no model)
# reached directly, through nginx as a keep-alive reverse proxy, and through `llmfleet router`, each driven by
# `llmfleet bench` as a closed loop. Prints throughput (and its ratio to nginx) and end-to-end p50/p99 with the
# latency each proxy adds over the direct path, for whole and streamed responses.
#
#   bash bench/e2e/router_vs_nginx.sh [--requests N] [--concurrency C] [--reply-tokens T] [--proxy-threads P]
#                                     [--repeats R]
#
# The three paths run interleaved, R times each (default 3); the table shows each figure's median over the
# repeats, so a burst of noise on a shared machine hits all paths alike.
#
# Installs nginx (Debian) when missing. Needs build/bin/{llmfleet,fixed_backend} (bash scripts/setup.sh).
set -euo pipefail

requests=20000
concurrency=32
reply_tokens=16
proxy_threads=1 # nginx worker processes = router io threads (its server and upstream client share them)
repeats=3
build=${BUILD_DIR:-build}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --requests) requests=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --reply-tokens) reply_tokens=$2; shift 2 ;;
    --proxy-threads) proxy_threads=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    *) echo "unknown flag $1; see the header of $0" >&2; exit 1 ;;
    esac
done

if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
    sudo_cmd=""
    [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get install -y --no-install-recommends nginx-light >/dev/null || $sudo_cmd apt-get install -y nginx >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
for bin in "$build/bin/llmfleet" "$build/bin/fixed_backend"; do
    [[ -x $bin ]] || { echo "$bin is missing: build first (bash scripts/setup.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/router_vs_nginx.XXXXXX)
cleanup() { # every server started here wrote its pid file (start runs in a subshell, so no shell array)
    for f in "$work"/*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
}
trap cleanup EXIT

# Starts a server in the background and echoes its port, read from its startup line.
start() {
    local name=$1; shift
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
    echo $! >"$work/$name.pid"
    for _ in $(seq 100); do
        if port=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/$name.out" | tail -1 | cut -d: -f3) && [[ -n $port ]]; then
            echo "$port"
            return
        fi
        sleep 0.1
    done
    echo "$name did not start: $(cat "$work/$name.err")" >&2
    exit 1
}

backend_port=$(start backend "$build/bin/fixed_backend" --port 0 --io-threads 1 --reply-tokens "$reply_tokens")
router_port=$(start router "$build/bin/llmfleet" router --port 0 --backend "http://127.0.0.1:$backend_port" \
    --io-threads "$proxy_threads" --health-interval-ms 1000)
nginx_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $proxy_threads;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    upstream backend { server 127.0.0.1:$backend_port; keepalive 256; }
    server {
        listen 127.0.0.1:$nginx_port;
        keepalive_requests 1000000;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
EOF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" 2>"$work/nginx.err" &
echo $! >"$work/nginx.pid"
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$nginx_port/health" && break
    sleep 0.1
done

run() { # name port mode repeat → $work/name.mode.repeat.json
    local name=$1 port=$2 mode=$3 repeat=$4
    "$build/bin/llmfleet" bench --url "http://127.0.0.1:$port" --num-requests "$requests" --request-rate inf \
        --max-concurrency "$concurrency" --input-len 32 --output-len "$reply_tokens" --warmup 200 --no-progress \
        "--$mode" --output json --out "$work/$name.$mode.$repeat.json" >/dev/null 2>&1
}
for mode in no-stream stream; do
    for repeat in $(seq "$repeats"); do
        for target in direct:$backend_port nginx:$nginx_port router:$router_port; do
            run "${target%%:*}" "${target##*:}" "$mode" "$repeat"
        done
    done
done

echo "router vs nginx: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(date -u +%F)"
echo "closed loop: $concurrency connections, $requests requests per run, $reply_tokens-token fixed replies, median of $repeats;"
echo "proxy threads: nginx $proxy_threads worker(s), router $proxy_threads shared io thread(s); $("$nginx_bin" -v 2>&1)"
/usr/bin/python3 - "$work" "$repeats" <<'EOF'
import json, statistics, sys
work, repeats = sys.argv[1], int(sys.argv[2])
print(f"| mode | path | req/s | vs nginx | e2e p50 ms | e2e p99 ms | added p50 ms | added p99 ms | failed |")
print("|---|---|---|---|---|---|---|---|---|")
for mode in ("no-stream", "stream"):
    runs = {n: [json.load(open(f"{work}/{n}.{mode}.{i}.json")) for i in range(1, repeats + 1)]
            for n in ("direct", "nginx", "router")}
    rps = {n: statistics.median(x["request_throughput_rps"] for x in runs[n]) for n in runs}
    e2e = {n: {q: statistics.median(x["e2e_ms"][q] for x in runs[n]) for q in ("p50", "p99")} for n in runs}
    failed = {n: sum(x["failed"] for x in runs[n]) for n in runs}
    for n in ("direct", "nginx", "router"):
        added50 = e2e[n]["p50"] - e2e["direct"]["p50"]
        added99 = e2e[n]["p99"] - e2e["direct"]["p99"]
        print(f"| {mode} | {n} | {rps[n]:.0f} | {rps[n] / rps['nginx']:.2f} | {e2e[n]['p50']:.3f} | "
              f"{e2e[n]['p99']:.3f} | {added50:+.3f} | {added99:+.3f} | {failed[n]} |")
EOF
