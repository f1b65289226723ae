"""Keep large freed memory blocks in the process (glibc ``mallopt``), so the forward
passes of feature extraction do not map and fault in fresh pages for every activation.

glibc serves every allocation above its mmap threshold (dynamic, at most 32 MiB) with a
new ``mmap`` and returns it to the kernel on ``free``. A CNN's activations at batch 64
are tens of MiB each, so every layer of every batch maps new memory, and the kernel
zeroes and faults in each page on first touch: measured on EfficientNet-Lite0/1/2 and
their random twins over the 1,280 cue-conflict images (2 cores), 657 s of system time
beside 588 s of user time and 372 million minor page faults. Raising the mmap threshold
and the trim threshold keeps those blocks in the heap for reuse: the same arithmetic on
the same memory layout's values, so features are unchanged bit for bit (tests), at the
cost of a resident size that stays at the peak of one batch's activations.

Only glibc (Linux) has ``mallopt``; elsewhere this does nothing and says so by its
return value. ``REPALIGN_MALLOC=default`` leaves the allocator as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

#: glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: blocks up to this size come from the heap and are reused (1 GiB: a batch-256 activation
#: of a large ViT stays below it); the heap is not trimmed below 2 GiB of free top memory
MMAP_THRESHOLD = 1 << 30
TRIM_THRESHOLD = (1 << 31) - 1  # the largest int mallopt takes

_applied: bool | None = None


def keep_freed_blocks() -> bool:
    """Raise glibc's mmap and trim thresholds once per process (inherited by forked
    DataLoader workers). Returns whether they are raised."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if not sys.platform.startswith("linux") or os.environ.get("REPALIGN_MALLOC", "") == "default":
        return _applied
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return _applied
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied
