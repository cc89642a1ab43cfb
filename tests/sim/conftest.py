"""CUDA kernels against their CPU twins.

These tests run when CUDA kernels can run: under the simulator
(``NUMBA_ENABLE_CUDASIM=1``, tiny inputs) or on a real device. In the normal CPU
lane they are not collected.
"""

from kernels.backend import cuda_usable

collect_ignore_glob = [] if cuda_usable() else ["test_*.py"]
