#!/usr/bin/env bash
# The sanitizer job: openbf's C code under AddressSanitizer + UBSan, driven by real CUDA programs.
#
# Runs every conformance program (tests/conformance, static and per-thread builds) with
# LD_PRELOAD=<gcc's libasan.so>:<sanitized libbf.so> against a bf-server whose bf-worker and
# libbfemu.so are the sanitized ones (the server itself and its Cython module come from the plain
# build: an extension built with -fsanitize does not import into a normal Python), then the
# driver-contract program of the sanitized build against its libbfemu.so and through its libbf.so.
# Any AddressSanitizer, LeakSanitizer (worker and contract program) or UBSan report fails the job.
# See docs/conformance.md, "The sanitizer job".
#
# Reuses the build directories of tools/dev/c-tests.sh (build-ci-asan, build-ci-plain), creating
# them if missing; BF_ASAN_BUILD_DIR / BF_PLAIN_BUILD_DIR name others. Extra arguments go to
# tools/dev/conformance.py (e.g. --only pipeline -v).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"
python=$(command -v python || command -v python3)

asan_dir="${BF_ASAN_BUILD_DIR:-build-ci-asan}"
plain_dir="${BF_PLAIN_BUILD_DIR:-build-ci-plain}"
[ -d "$asan_dir" ] || meson setup "$asan_dir" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
[ -d "$plain_dir" ] || meson setup "$plain_dir" -Dwerror=true >/dev/null
for dir in "$asan_dir" "$plain_dir"; do
    ninja -C "$dir" >"$dir/ninja-output.log" || { cat "$dir/ninja-output.log"; exit 1; }
done

BF_BUILD_DIR="$PWD/$plain_dir" "$python" tools/dev/conformance.py --mode asan --asan-build-dir "$asan_dir" \
    --variant static --variant perthread "$@"
