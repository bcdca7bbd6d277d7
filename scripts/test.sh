#!/usr/bin/env bash
# Installs everything the test suite needs into ./.venv (Chromium from Debian for the browser
# tests, PostgreSQL from Debian for the PostgreSQL backend, the project with its [test] extra),
# starts a throwaway PostgreSQL cluster (scripts/pg_throwaway.sh; its URL in
# AURORAX_TEST_POSTGRES_URL, removed at the end) and runs the whole suite. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
    echo "==> installing Chromium (Debian package) for the browser tests"
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "==> installing PostgreSQL (Debian package) for the PostgreSQL backend's tests"
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PYTHON" -m venv .venv
fi
echo "==> installing the project and its test dependencies"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

echo "==> ruff"
.venv/bin/ruff check .

if [ -z "${AURORAX_TEST_POSTGRES_URL:-}" ]; then
    echo "==> starting a throwaway PostgreSQL for the tests"
    PG_DIR=$(mktemp -d /tmp/aurorax-pg.XXXXXX)
    # stopped and removed however pytest ends (failure, Ctrl-C)
    trap 'bash scripts/pg_throwaway.sh stop "$PG_DIR"' EXIT
    AURORAX_TEST_POSTGRES_URL=$(bash scripts/pg_throwaway.sh start "$PG_DIR")
    export AURORAX_TEST_POSTGRES_URL
fi

echo "==> pytest"
# pytest exits 5 when it collected no tests; that is a failure here too (set -e). Not exec'd:
# the trap above must run after it.
.venv/bin/python -m pytest "$@"
