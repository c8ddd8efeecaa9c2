#!/usr/bin/env bash
# Every test: builds and installs openbf into ./.venv with its test extras, runs the C unit tests
# (plain and under AddressSanitizer/UBSan), the sanitizer job (CUDA programs through the sanitized
# libbf.so, bf-worker and libbfemu.so), lint, then pytest. pytest runs against the plain meson
# build (BF_BUILD_DIR), which also holds the C test programs; tests/tools/test_installed.py checks
# the installed package on its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"

bash tools/dev/c-tests.sh
bash tools/dev/sanitize.sh
ruff check python tests tools bench
BF_BUILD_DIR="$PWD/build-ci-plain" python -m pytest -q -p no:cacheprovider -rs tests
