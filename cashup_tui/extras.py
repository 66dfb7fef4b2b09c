"""Optional parts (pip extras): the one way to import one and say how to install it.

Why: pyarrow (parquet/feather), dask[distributed] (`--cluster`) and textual-serve (`cashup serve`)
are heavy and most users never need them, so they are extras (`cashup[parquet]`, `[cluster]`,
`[serve]`, `[all]`). A missing one is a one-line error naming the extra (exit 2), not a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from cashup_tui.domain.errors import ConfigError


class MissingExtra(ConfigError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(module: str, *, extra: str, why: str) -> ModuleType:
    """Import `module`, or raise MissingExtra "`why`: pip install 'cashup[`extra`]'".

    `why` says who needs what, e.g. "parquet files need pyarrow". Only the module itself (or its
    top-level package) being absent counts: a broken install still raises its own ImportError.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        if exc.name not in (module, top) and not module.startswith(f"{exc.name}."):
            raise
        raise MissingExtra(f"{why}: pip install 'cashup[{extra}]'") from None
