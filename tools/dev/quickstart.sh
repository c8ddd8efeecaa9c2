#!/usr/bin/env bash
# The main job: build and install openbf, build an ordinary CUDA program with nvcc, and run it
# through openbf. With no pool configured (BF_SERVER unset), `bf run` starts a private server on the
# CPU emulator and stops it when the program exits.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/setup.sh
mkdir -p build-examples
nvcc -o build-examples/hello_openbf examples/hello_openbf.cu
.venv/bin/bf run -- build-examples/hello_openbf
