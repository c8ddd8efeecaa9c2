#!/usr/bin/env bash
# Every test: builds and installs openbf into ./.venv with its test extras, runs the C unit tests
# (plain and under AddressSanitizer/UBSan), lint, then pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"

bash tools/dev/c-tests.sh
ruff check python tests tools bench
python -m pytest -q -p no:cacheprovider tests
