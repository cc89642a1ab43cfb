#!/usr/bin/env bash
# Fill .gpu_wheels/ (repo root) with the wheels bench/gpu_check.py installs on the device
# machine, which has no network: the engine's dependencies its image lacks (dask,
# distributed, warcio, zstandard, pydivsufsort, tqdm) and their own dependencies.
#
#   bash bench/gpu_check_wheels.sh                 # for the device image's CPython 3.12
#   GPU_PYTHON_VERSIONS="3.10 3.11 3.12" bash bench/gpu_check_wheels.sh
#
# Platform: manylinux x86_64. Versions are those tested in this checkout's .venv; pure
# Python wheels are shared between Python versions. Then copy .gpu_wheels/ to the GPU
# machine with the checkout (see the top of bench/gpu_check.py). It is ignored by git.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
# the device image (KINDS.md, 2026-11) runs CPython 3.12.3
VERSIONS=${GPU_PYTHON_VERSIONS:-3.12}
PACKAGES=(
    "dask==2026.8.0"
    "distributed==2026.8.0"
    "warcio>=1.7"
    "zstandard>=0.22"
    "pydivsufsort>=0.0.14"
    "tqdm>=4.66"
)
mkdir -p .gpu_wheels
for version in $VERSIONS; do
    echo "== CPython $version, manylinux x86_64"
    "$PY" -m pip download -q --only-binary=:all: --implementation cp \
        --python-version "$version" \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
        -d .gpu_wheels "${PACKAGES[@]}"
done
# numpy is in the device image already and is the largest wheel: drop it to keep the
# carried tree small (gpu_check installs only what is missing there).
rm -f .gpu_wheels/numpy-*.whl
ls -1 .gpu_wheels
du -sh .gpu_wheels
