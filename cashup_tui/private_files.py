"""Private files and directories (0700 directories, 0600 files written atomically).

Plain file-system helpers with no knowledge of where CashUp keeps things (that is `paths.py`), so
adapters (the vault) and the composition root share them."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
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


def copy_file(src: Any, dst: Any, length: int | None = None) -> None:
    """The rest of open file `src` (or its next `length` bytes) onto open file `dst` at their positions,
    in the kernel where it can (no pages of the process: its memory stays flat however large the file)."""
    src.flush()  # what a buffered `src` still holds goes to its file first
    pos = src.tell()
    end = os.fstat(src.fileno()).st_size if length is None else pos + length
    try:
        while pos < end:
            n = os.copy_file_range(src.fileno(), dst.fileno(), end - pos, pos)
            if n <= 0:
                raise OSError(f"copy stopped {end - pos} bytes short")
            pos += n
    except (AttributeError, OSError) as exc:  # no copy_file_range here, or not between these files
        if getattr(exc, "errno", None) not in (None, errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
        src.seek(pos)
        while pos < end:
            block = src.read(min(1 << 20, end - pos))
            if not block:
                raise OSError(f"copy stopped {end - pos} bytes short") from exc
            dst.write(block)
            pos += len(block)
        return
    src.seek(end)
    dst.seek(0, os.SEEK_END)


def write_private_file(path: Path, data: bytes | Sequence[Any], *, keep_mode: bool = False) -> None:
    """Atomically replace `path` with `data` (bytes, or parts written one after the other: buffers, open
    files copied from their current position in the kernel, so a large file is never joined, nor read,
    into memory first, or (open file, offset, length) for a range of one), mode 0600, in a 0700
    directory (never half-written).
    `keep_mode`: an existing file keeps its mode and its directory is left as it is (a settings file
    the user placed and chose permissions for)."""
    stage_private_file(path, data, keep_mode=keep_mode)()


def stage_private_file(path: Path, data: bytes | Sequence[Any], *, keep_mode: bool = False) -> Callable[[], None]:
    """`write_private_file` in two steps: `data` is written now into a temp file beside `path` (so the
    caller's buffers may change once this returns); the step returned makes it durable and renames it over
    `path` (fsync, rename, fsync of the directory), or removes it and raises. A caller may run that step
    in another thread, not wait for the fsync; a temp file whose step never runs stays (named `.NAME.*.tmp`)."""
    old_umask = os.umask(0o077)
    try:
        mode = 0o600
        if keep_mode and path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
        else:
            ensure_private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    finally:
        os.umask(old_umask)
    fh = os.fdopen(fd, "wb")
    try:
        parts: Sequence[Any] = [data] if isinstance(data, bytes) else data
        for part in parts:
            if isinstance(part, tuple):
                fh.flush()
                part[0].seek(part[1])
                copy_file(part[0], fh, part[2])
            elif hasattr(part, "fileno"):
                fh.flush()
                copy_file(part, fh)
            else:
                fh.write(part)
        fh.flush()
    except BaseException:
        _drop(fh, tmp)
        raise

    def publish() -> None:
        try:
            with fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            _drop(fh, tmp)
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

    return publish


def _drop(fh: Any, tmp: str) -> None:
    """Close and remove a temp file that will not be published."""
    try:
        fh.close()
    except OSError:
        pass
    try:
        os.unlink(tmp)
    except OSError:
        pass
