#!/usr/bin/env bash
# Create .venv (if missing) and install Ouroboros with its test extras; .venv-ptx with
# the compile lane's toolchain (numba-cuda + NVIDIA's compiler wheels, no GPU needed);
# install the Debian chromium package the browser lane drives (headless) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/lib/chromium/chromium ] && command -v apt-get >/dev/null; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
if [ ! -x .venv-ptx/bin/python ]; then
    python3 -m venv .venv-ptx
fi
.venv-ptx/bin/python -m pip install --quiet --upgrade pip
.venv-ptx/bin/python -m pip install --quiet -e '.[ptx]'
