#!/usr/bin/env bash
# Installs everything the test suite needs into ./.venv (Chromium from Debian for the browser
# tests, the project with its [test] extra) and runs the whole suite. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
    echo "==> installing Chromium (Debian package) for the browser tests"
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
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

echo "==> pytest"
# pytest exits 5 when it collected no tests; that is a failure here too (set -e).
exec .venv/bin/python -m pytest "$@"
