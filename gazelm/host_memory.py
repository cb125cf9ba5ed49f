"""Keep freed CPU tensor memory in the process for reuse, instead of handing it back to the kernel.

PyTorch's CPU tensors come from the C library's ``malloc``. glibc serves a block above its *mmap
threshold* (128 KiB at start, raised as such blocks are freed, to 32 MiB at most) with a fresh
``mmap``, and gives the free top of its heap back to the kernel once it exceeds twice that
threshold. A training step allocates and frees many tensors of a few MiB (activations, their
gradients, attention maps), so every step asks the kernel for fresh pages again and the kernel
zeroes them in page faults. Measured on the 2-core development machine: the FixATE step
(second-order backward over ``[B, H, N, N]`` attention maps, ``benchmarks/fixate_step.py``)
spent 290–380 ms of its 800–990 ms CPU time in the kernel (about 190,000 page faults a step);
with both thresholds set once, 2–8 ms. The tiny-T5 training step spent 3–5 % there, and ran
~9 % faster with them set (docs/benchmarks.md).

:func:`retain_freed_memory` sets them once for the process (``gazelm train`` does, unless
``retain_freed_memory: false``): blocks up to 32 MiB come from the heap and the heap is trimmed
only when 2 GiB of it are free. The process keeps its peak heap, which a training run reaches
at every step anyway. Tensors above 32 MiB are still mapped per allocation (glibc's limit);
for large models on CPU preload jemalloc or tcmalloc instead (docs/scaling.md). Other C
libraries (macOS, musl) are left as they are.
"""
from __future__ import annotations

import ctypes
import logging
import platform

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1   # glibc <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 2 ** 20   # glibc's cap on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
TRIM_THRESHOLD = 2 ** 31 - 1        # mallopt takes an int


def retain_freed_memory(mmap_threshold: int = MMAP_THRESHOLD_MAX, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Set glibc's mmap and trim thresholds for this process; ``False`` (nothing changed) on
    another C library. Calling it again sets the same values."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's malloc (a preloaded allocator's, if any)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
    if not done:
        log.debug("mallopt refused the thresholds (%d, %d)", mmap_threshold, trim_threshold)
    return done
