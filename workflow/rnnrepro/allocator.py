"""Keep freed memory in the process instead of returning it to the kernel (glibc only).

A ReNet training step allocates and frees tensors of tens to hundreds of MB (the FC layers'
activations, their gradients, autocast's bfloat16 copy of a 4096 x 25088 weight). glibc serves
each from a fresh ``mmap`` and unmaps it on free, so every step faults in and zeroes the same
pages again: in a profile of the Table 1 MNIST model's step (one thread, batch 64) that cost
more than the elementwise arithmetic itself, and the step took 3.6 s in float32 and 2.7 s in
bf16-mixed; with freed memory kept for reuse 3.2 s and 1.9 s (benchmarks/renet_speed.py). The
arithmetic, and so every number a run computes, is the same.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# mallopt(3) parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def reuse_freed_memory() -> bool:
    """Serve large allocations from the heap and never trim it, so that freed blocks are reused
    instead of unmapped; True where glibc's ``mallopt`` took both settings. Call it before the
    large allocations (the commands call it before importing torch). The process's peak
    resident memory is then held until it exits, which a training job does anyway."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        log.debug("no glibc mallopt (%s): allocations left to the system's allocator", name)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # Both return 1 on success. 2**31 - 1: a trim threshold no training job's heap top reaches.
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
