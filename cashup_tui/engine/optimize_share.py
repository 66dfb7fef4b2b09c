"""A local sweep's bars reach its worker processes as memory-mapped files, not through the pipe.

A spawned worker used to get the bars pickled in its start-up arguments: tens of megabytes per
worker, pickled once for each and written through a pipe that the worker reads only after its
own imports, so the workers' starts queued behind each other. The columns are instead written
once to `.npy` files in a temporary folder that lives as long as the pool, and each worker maps
them copy-on-write: nothing is pickled or copied up front, the page cache holds one copy for
every worker, and a strategy that writes into its bars still changes only its own process's
pages (as with its own pickled copy before). Dask keeps scattering the context itself.

`keep_freed_memory`: a trial allocates and frees tens of megabytes of temporaries; glibc returns
such blocks to the system at once and the next trial faults the same pages in again (system
time, every trial). A sweep process keeps them for reuse instead.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np

from cashup_tui.engine.strategy import Bars


@dataclass(frozen=True, slots=True)
class MappedBars:
    """Where `spill` wrote a series (picklable: a path and two names)."""

    folder: str
    symbol: str
    timeframe: str

    def load(self) -> Bars:
        cols = {c: np.asarray(np.load(os.path.join(self.folder, f"{c}.npy"), mmap_mode="c")) for c in Bars.COLUMNS}
        return Bars(**cols, symbol=self.symbol, timeframe=self.timeframe)


def spill(bars: Bars, folder: str) -> MappedBars:
    """Write `bars`' columns into `folder` (which must outlive every worker that loads them)."""
    for c in Bars.COLUMNS:
        np.save(os.path.join(folder, f"{c}.npy"), np.ascontiguousarray(getattr(bars, c)))
    return MappedBars(folder, bars.symbol, bars.timeframe)


def keep_freed_memory() -> None:
    """Ask glibc to serve large blocks from its heap and keep freed ones (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GiB of free heap
        libc.mallopt(-3, 1 << 28)  # M_MMAP_THRESHOLD: blocks under 256 MiB come from the heap
    except (OSError, AttributeError):  # not glibc (e.g. musl): its allocator's defaults stand
        pass
