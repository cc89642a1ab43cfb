#!/usr/bin/env bash
# Set up, lint, then run the CPU lane and the CUDA-simulator lane.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check engine kernels bench tests
echo "== CPU lane"
python -m pytest -q -m "not gpu" tests
echo "== CUDA simulator lane"
NUMBA_ENABLE_CUDASIM=1 python -m pytest -q -p no:cacheprovider tests/sim
