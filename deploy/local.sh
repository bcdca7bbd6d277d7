#!/usr/bin/env bash
# The whole deployment on this machine, on loopback: a throwaway PostgreSQL (its catalog and role
# made by deploy/postgres-setup.sh, the demo archive loaded), 2 `aurorax-core serve` API processes,
# 2 `panel serve dashboard` processes, and nginx in front (deploy/nginx/aurorax.conf.template).
#
#   bash deploy/local.sh up [DIR]     # prints the URLs; state, logs and the database live in DIR
#   bash deploy/local.sh down [DIR]   # stops everything it started and removes DIR
#
# DIR defaults to ${TMPDIR:-/tmp}/aurorax-local. `up` writes DIR/deploy.env (URL, ports, pids) and
# returns once every process answers its /health. Settings: AURORAX_LOCAL_DEMO="START END" (the
# demo archive's days, default its whole range), AURORAX_LOCAL_PORT (nginx's port, default free),
# AURORAX_SEARCH_PROCESSES (per API process, default 1), PYTHON (default: .venv/bin/python).
# nginx and PostgreSQL refuse to run as root: as root they run as `nobody` / `postgres`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
action=${1:-}
dir=${2:-${TMPDIR:-/tmp}/aurorax-local}
python=${PYTHON:-$root/.venv/bin/python}
[ -x "$python" ] || python=python3
bin=$(dirname "$python")

usage() { echo "usage: $0 up|down [DIR]" >&2; exit 2; }

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_health() { # URL NAME: until it answers 200 (90 s)
    "$python" - "$1" "$2" <<'PY'
import sys, time, urllib.request, urllib.error
url, name = sys.argv[1], sys.argv[2]
ends = time.monotonic() + 90
last = ""
while time.monotonic() < ends:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            if answer.status == 200:
                sys.exit(0)
    except urllib.error.HTTPError as exc:
        last = f"{exc.code} {exc.read()[:200]!r}"
    except OSError as exc:
        last = str(exc)
    time.sleep(0.2)
sys.exit(f"{name} did not become healthy at {url}: {last}")
PY
}

running() { # PID: true while it runs (a zombie waiting for its parent has stopped)
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$state" ] && [ "$state" != "Z" ]
}

still_running() { # PID...: prints those still running
    local pid
    for pid in "$@"; do if running "$pid"; then echo "$pid"; fi; done
}

wait_gone() { # TENTHS PID...: true once none of PID... runs, false after TENTHS tenths of a second
    local tenths=$1 _
    shift
    for _ in $(seq 1 "$tenths"); do
        [ -z "$(still_running "$@")" ] && return 0
        sleep 0.1
    done
    [ -z "$(still_running "$@")" ]
}

stop_pids() { # PID...: SIGTERM to all at once, SIGKILL to any left after 15 s; returns once all are gone
    local pid
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait_gone 150 "$@" && return 0
    for pid in $(still_running "$@"); do
        echo "process $pid did not stop within 15 s of SIGTERM: killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    done
    # SIGKILL is not instant either: "down" returns only when nothing it started still runs
    wait_gone 50 "$@" && return 0
    echo "processes still running after SIGKILL: $(still_running "$@" | tr '\n' ' ')" >&2
    return 1
}

down() {
    if [ ! -d "$dir" ]; then
        echo "nothing to stop: $dir does not exist"
        return 0
    fi
    local pids=() pidfile status=0
    # nginx first, so that no request reaches a process while it stops
    if [ -f "$dir/nginx/nginx.pid" ]; then stop_pids "$(cat "$dir/nginx/nginx.pid")" || status=1; fi
    for pidfile in "$dir"/pids/*.pid; do
        [ -e "$pidfile" ] || continue
        pids+=("$(cat "$pidfile")")
    done
    if [ ${#pids[@]} -gt 0 ]; then stop_pids "${pids[@]}" || status=1; fi
    if [ -d "$dir/pg" ]; then bash "$root/scripts/pg_throwaway.sh" stop "$dir/pg" || true; fi
    if [ "$status" != 0 ]; then
        echo "some processes did not stop; $dir is kept (pids in $dir/pids)" >&2
        return 1
    fi
    rm -rf "$dir"
    echo "stopped; removed $dir"
}

start_bg() { # NAME COMMAND...: started in its own session, pid in pids/NAME.pid, log in logs/NAME.log
    local name=$1
    shift
    setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$dir/pids/$name.pid"
}

up() {
    if [ -e "$dir/deploy.env" ]; then
        echo "already up ($dir/deploy.env); run: $0 down $dir" >&2
        exit 1
    fi
    if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
        echo "==> installing nginx (Debian package)"
        SUDO=""
        if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light >/dev/null
    fi
    nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
    mkdir -p "$dir/logs" "$dir/pids" "$dir/nginx/tmp"
    chmod 755 "$dir"  # PostgreSQL and nginx may run as other users (its parents must let them in too)
    trap 'echo "up failed; logs in $dir/logs" >&2' ERR

    echo "==> PostgreSQL"
    admin_url=$(bash "$root/scripts/pg_throwaway.sh" start "$dir/pg")
    catalog=$(AURORAX_APP_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n') \
        bash "$here/postgres-setup.sh" "$admin_url" aurorax_app aurorax_deploy)
    echo "==> demo archive into the catalog"
    read -r demo_start demo_end <<<"${AURORAX_LOCAL_DEMO:-}"
    AURORAX_CATALOG=$catalog "$python" -m aurorax_core catalog demo --quiet \
        ${demo_start:+--start "$demo_start"} ${demo_end:+--end "$demo_end"} >"$dir/logs/demo.log" 2>&1

    port=${AURORAX_LOCAL_PORT:-$(free_port)}
    public="http://127.0.0.1:$port"
    api_ports=("$(free_port)" "$(free_port)")
    dash_ports=("$(free_port)" "$(free_port)")
    # one environment file for every process, as systemd's EnvironmentFile
    umask 077
    cat >"$dir/aurorax.env" <<EOF
AURORAX_CATALOG=$catalog
AURORAX_PUBLIC_URL=$public
AURORAX_PUBLIC_HOST=127.0.0.1:$port
AURORAX_SEARCH_PROCESSES=${AURORAX_SEARCH_PROCESSES:-1}
AURORAX_RESULT_TTL=3600
AURORAX_RESULT_MEMORY=256
XDG_CACHE_HOME=$dir/cache
EOF
    umask 022
    set -a
    # shellcheck disable=SC1091
    . "$dir/aurorax.env"
    set +a

    echo "==> 2 API processes (aurorax-core serve)"
    for i in 0 1; do
        # the catalog from AURORAX_CATALOG: no password in the process list
        start_bg "api$((i + 1))" "$python" -m aurorax_core serve \
            --host 127.0.0.1 --port "${api_ports[$i]}" --public-url "$AURORAX_PUBLIC_URL" \
            --search-processes "$AURORAX_SEARCH_PROCESSES" --result-ttl "$AURORAX_RESULT_TTL" \
            --result-memory "$AURORAX_RESULT_MEMORY"
    done
    echo "==> 2 dashboard processes (panel serve dashboard)"
    for i in 0 1; do
        start_bg "dashboard$((i + 1))" "$bin/panel" serve "$root/dashboard" --address 127.0.0.1 \
            --port "${dash_ports[$i]}" --allow-websocket-origin "$AURORAX_PUBLIC_HOST" \
            --plugins aurorax_core.server.health
    done

    echo "==> nginx"
    api_servers=""
    for p in "${api_ports[@]}"; do
        api_servers+="        server 127.0.0.1:$p max_fails=1 fail_timeout=5s;"$'\n'
    done
    dash_servers=""
    for p in "${dash_ports[@]}"; do
        dash_servers+="        server 127.0.0.1:$p max_fails=1 fail_timeout=5s;"$'\n'
    done
    "$python" - "$here/nginx/aurorax.conf.template" "$dir/nginx/nginx.conf" "$dir/nginx" "127.0.0.1:$port" \
        "$api_servers" "$dash_servers" <<'PY'
import sys
template, out, state, listen, api, dash = sys.argv[1:]
text = open(template).read()
for key, value in {"@STATE@": state, "@LISTEN@": listen, "@API_SERVERS@": api.rstrip("\n"),
                   "@DASHBOARD_SERVERS@": dash.rstrip("\n")}.items():
    text = text.replace(key, value)
open(out, "w").write(text)
PY
    if [ "$(id -u)" = "0" ]; then
        chown -R nobody:nogroup "$dir/nginx"
        runuser -u nobody -- "$nginx_bin" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log"
    else
        "$nginx_bin" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log"
    fi

    echo "==> waiting for every process's /health"
    for p in "${api_ports[@]}"; do wait_health "http://127.0.0.1:$p/health" "API on port $p"; done
    for p in "${dash_ports[@]}"; do wait_health "http://127.0.0.1:$p/health" "dashboard on port $p"; done
    wait_health "$public/api/health" "nginx -> API"
    wait_health "$public/health" "nginx -> dashboard"

    cat >"$dir/deploy.env" <<EOF
AURORAX_LOCAL_URL=$public
AURORAX_LOCAL_API=$public/api/v1
AURORAX_LOCAL_DASHBOARD=$public/dashboard
AURORAX_LOCAL_API_PORTS="${api_ports[*]}"
AURORAX_LOCAL_DASHBOARD_PORTS="${dash_ports[*]}"
AURORAX_LOCAL_CATALOG=$catalog
EOF
    trap - ERR
    echo "up:"
    echo "  dashboard  $public/dashboard   (processes on ports ${dash_ports[*]})"
    echo "  API        $public/api/v1      (processes on ports ${api_ports[*]}; pyaurorax: PyAuroraX(api_base_url=\"$public\"))"
    echo "  health     $public/health (dashboard), $public/api/health (API)"
    echo "  state      $dir (logs in $dir/logs); stop with: bash deploy/local.sh down $dir"
}

case "$action" in
up) up ;;
down) down ;;
*) usage ;;
esac
