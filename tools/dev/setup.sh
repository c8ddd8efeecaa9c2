#!/usr/bin/env bash
# Installs what openbf needs on a fresh Debian machine and builds and installs openbf into ./.venv.
# Usage: setup.sh [EXTRA]   (EXTRA: an optional-dependency group of pyproject.toml, e.g. test)
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."

need_apt=()
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
pkg-config --exists libzstd 2>/dev/null || need_apt+=(libzstd-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
target="."
[ $# -gt 0 ] && target=".[$1]"
.venv/bin/python -m pip install -q "$target"
