#!/usr/bin/env bash
# Set up, lint, then run the CPU lane, the CUDA-simulator lane and the compile lane.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check engine kernels bench tests
echo "== CPU lane"
python -m pytest -q -m "not gpu" tests
echo "== CUDA simulator lane"
NUMBA_ENABLE_CUDASIM=1 python -m pytest -q -p no:cacheprovider tests/sim
echo "== Compile lane (every CUDA kernel to PTX for sm_80/sm_90, assembled by ptxas; no GPU)"
.venv-ptx/bin/python -m bench ptx --report "$(mktemp -d)/ptx_report.md"
