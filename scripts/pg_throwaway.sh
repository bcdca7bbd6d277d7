#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a folder, started on a free
# loopback port (and a unix socket in that folder), stopped and removed on `stop`.
#
#   bash scripts/pg_throwaway.sh start DIR   # prints the URL: postgresql://aurorax:PW@127.0.0.1:PORT/aurorax
#   bash scripts/pg_throwaway.sh stop DIR    # stops the server and removes DIR
#
# PostgreSQL refuses to run as root: when started as root the cluster belongs to the `postgres`
# system user (created as `aurorax-pg` when Debian's package has not created `postgres`).
# The user `aurorax` authenticates with a random password (scram-sha-256), so a wrong password is
# refused as on a real server. Fast settings (fsync off) unless PG_THROWAWAY_DURABLE=1;
# PG_THROWAWAY_OPTS adds server options (e.g. "-c shared_buffers=1GB").
# Exit codes: 0 ok, 2 usage, 3 PostgreSQL is not installed, 4 the server did not start.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$2

find_bindir() {
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
        return 0
    fi
    local candidate
    candidate=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$candidate" ] && [ -x "$candidate/initdb" ]; then
        echo "$candidate"
        return 0
    fi
    return 1
}

run_as=""
if [ "$(id -u)" = "0" ]; then
    if id postgres >/dev/null 2>&1; then
        run_as=postgres
    else
        if ! id aurorax-pg >/dev/null 2>&1; then
            useradd --system --no-create-home --shell /usr/sbin/nologin aurorax-pg
        fi
        run_as=aurorax-pg
    fi
fi

as_owner() {
    if [ -n "$run_as" ]; then
        runuser -u "$run_as" -- "$@"
    else
        "$@"
    fi
}

case "$action" in
start)
    if ! bindir=$(find_bindir); then
        echo "PostgreSQL is not installed (no initdb found); install it with: apt-get install -y postgresql" >&2
        exit 3
    fi
    mkdir -p "$dir"
    chmod 700 "$dir"
    password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '%s\n' "$password" >"$dir/pwfile"
    if [ -n "$run_as" ]; then chown -R "$run_as" "$dir"; fi
    as_owner "$bindir/initdb" -D "$dir/data" -U aurorax --pwfile="$dir/pwfile" --auth=scram-sha-256 \
        -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
        echo "initdb failed; see $dir/initdb.log:" >&2
        tail -n 5 "$dir/initdb.log" >&2
        exit 4
    }
    rm -f "$dir/pwfile"
    opts="-c listen_addresses=127.0.0.1 -k $dir -c max_connections=200"
    if [ "${PG_THROWAWAY_DURABLE:-0}" != "1" ]; then
        opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    opts="$opts ${PG_THROWAWAY_OPTS:-}"
    started=""
    for _attempt in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $port $opts" -w -t 60 start \
            >/dev/null 2>&1; then
            started=1
            break
        fi
    done
    if [ -z "$started" ]; then
        echo "the throwaway PostgreSQL did not start; its log ($dir/server.log) ends with:" >&2
        tail -n 5 "$dir/server.log" >&2 || true
        exit 4
    fi
    PGPASSWORD=$password "$bindir/createdb" -h 127.0.0.1 -p "$port" -U aurorax aurorax
    url="postgresql://aurorax:$password@127.0.0.1:$port/aurorax"
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        bindir=$(find_bindir || true)
        if [ -n "$bindir" ]; then
            as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        if [ -f "$dir/data/postmaster.pid" ]; then
            # pg_ctl could not stop it: end the postmaster we started (its pid is the file's first line)
            pid=$(head -n 1 "$dir/data/postmaster.pid")
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    case "$dir" in
    /|"") echo "refusing to remove '$dir'" >&2; exit 2 ;;
    esac
    rm -rf "$dir"
    ;;
*)
    usage
    ;;
esac
