"""Shared pytest setup for the three lanes.

- CPU lane: ``pytest`` (everything but tests/sim and tests marked ``gpu``).
- Simulator lane: ``NUMBA_ENABLE_CUDASIM=1 pytest tests/sim`` (a separate process:
  the variable must be set before numba is imported).
- GPU lane: ``pytest -m gpu tests`` and ``pytest tests/sim`` on a machine with a device.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

from kernels.backend import cuda_simulated, cuda_usable

# Numba compiles a function on its first call (hundreds of ms on a fresh machine with
# an empty cache), so per-example deadlines would only measure compilation.
settings.register_profile("ouroboros", deadline=None)
settings.load_profile("ouroboros")


def pytest_collection_modifyitems(config, items):
    if cuda_usable() and not cuda_simulated():
        return
    skip_gpu = pytest.mark.skip(reason="needs a real CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
