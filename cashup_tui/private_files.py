"""Private files and directories (0700 directories, 0600 files written atomically).

Plain file-system helpers with no knowledge of where CashUp keeps things (that is `paths.py`), so
adapters (the vault) and the composition root share them."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 if missing; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        path.chmod(0o700)
    except OSError:
        pass
    return path


def write_private_file(path: Path, data: bytes | Sequence[Any], *, keep_mode: bool = False) -> None:
    """Atomically replace `path` with `data` (bytes, or buffers written one after the other: a large
    file need not be joined in memory first), mode 0600, in a 0700 directory (never half-written).
    `keep_mode`: an existing file keeps its mode and its directory is left as it is (a settings file
    the user placed and chose permissions for)."""
    old_umask = os.umask(0o077)
    try:
        mode = 0o600
        if keep_mode and path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
        else:
            ensure_private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                parts: Sequence[Any] = [data] if isinstance(data, bytes) else data
                for part in parts:
                    fh.write(part)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        try:
            dir_fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)
    finally:
        os.umask(old_umask)
