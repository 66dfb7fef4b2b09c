"""Where `cashup data export` writes: stdout (`-`), a regular file (written to a temp file beside it and
renamed over it, so a failed export never leaves half a file), or something that is not a regular
file (a FIFO, /dev/stdout, a terminal), which is written directly: renaming a temp file over it would
replace the device or link itself (as root, `--force /dev/stdout` once replaced the system's link).
A symlink is followed: its target is written, the link stays.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cashup_tui.cli.common import fail

STDOUT_LABEL = "<stdout>"


@dataclass(frozen=True, slots=True)
class ExportTarget:
    kind: str  # "csv" | "parquet"
    path: Path | None  # None: stdout
    direct: bool  # write in place (stdout or not a regular file)
    label: str


def export_target(out: str, fmt: str, force: bool) -> ExportTarget:
    """Check OUT before any work: format, existing file (needs --force), directory."""
    if out == "-":
        kind = "csv" if fmt == "auto" else fmt
        if kind == "parquet" and sys.stdout.isatty():
            fail("will not write parquet (binary) to a terminal", hint="redirect stdout to a file, or use --format csv")
        return ExportTarget(kind, None, True, STDOUT_LABEL)
    given = Path(out).expanduser()
    kind = fmt if fmt != "auto" else ("parquet" if given.suffix.lower() in (".parquet", ".pq") else "csv")
    try:
        st = given.stat()  # follows a symlink
    except FileNotFoundError:
        st = None
    except OSError as exc:
        fail(f"cannot use {out}: {exc.strerror or exc}", hint="check the path")
    regular_link = given.is_symlink() and st is not None and stat.S_ISREG(st.st_mode)
    path = given.resolve() if regular_link else given  # rename at the link's target, never over the link
    if st is not None and stat.S_ISDIR(st.st_mode):
        fail(f"{out} is a directory", hint="give a file name, e.g. OUT.csv")
    if st is not None and stat.S_ISREG(st.st_mode) and not force:
        fail(f"{out} already exists", hint="pass --force to overwrite it")
    if st is None and not path.parent.exists():
        fail(f"directory {path.parent} does not exist", hint="create it first or choose another OUT path")
    return ExportTarget(kind, path, st is not None and not stat.S_ISREG(st.st_mode), out)


def write_export(df: Any, target: ExportTarget) -> None:
    """Write the frame; a regular file atomically, anything else in place."""
    if target.path is None:
        if target.kind == "parquet":
            buf = io.BytesIO()
            df.to_parquet(buf, index=False)
            sys.stdout.buffer.write(buf.getvalue())
        else:
            df.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
        return
    dest = target.path
    try:
        if target.direct:
            with dest.open("wb") as fh:
                _write(df, fh, target.kind)
            return
        tmp = dest.with_name(f".{dest.name}.tmp")
        try:
            with tmp.open("wb") as fh:
                _write(df, fh, target.kind)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        fail(f"cannot write {target.label}: {exc.strerror or exc}", hint="check the path and free disk space")


def _write(df: Any, fh: Any, kind: str) -> None:
    if kind == "parquet":
        df.to_parquet(fh, index=False)
    else:
        df.to_csv(fh, index=False, mode="wb")
