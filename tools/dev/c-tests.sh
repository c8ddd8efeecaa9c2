#!/usr/bin/env bash
# The C unit tests, built twice: plain with -Werror, and with AddressSanitizer + UBSan.
# Expects ./.venv (tools/dev/setup.sh) for meson, Cython and the pinned CUDA headers.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
python -m pip install -q meson ninja 'cython>=3.0.10' nvidia-cuda-runtime==13.0.96 nvidia-cuda-crt==13.0.88

for variant in plain asan; do
    dir="build-ci-$variant"
    opts=(-Dwerror=true)
    [ "$variant" = asan ] && opts+=(-Db_sanitize=address,undefined -Db_lundef=false)
    [ -d "$dir" ] || meson setup "$dir" "${opts[@]}" >/dev/null
    # Quiet when it builds; the compiler's messages when it does not (ninja prints them on stdout).
    ninja -C "$dir" >"$dir/ninja-output.log" || { cat "$dir/ninja-output.log"; exit 1; }
    # Leak detection on: the C tests free what they allocate (the CUDA programs, whose runtime keeps
    # its allocations, run with it off in tools/dev/sanitize.sh).
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C "$dir" --print-errorlogs
done
