"""Helpers shared by every CLI group: settings, store, output, error handling.

Stays light at import time: heavy modules are imported inside the functions.
Note: typer >= 0.29 vendors its own click (`typer._click`); use typer's names (typer.Exit,
typer.Abort, typer.TyperException, typer.echo), never the separate `click` package.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer

from cashup_tui.domain.enums import Mode
from cashup_tui.domain.errors import CashupError, ConfigError

log = logging.getLogger("cashup")


def fail(message: str, *, hint: str = "", code: int = 1) -> NoReturn:
    """Print a clear error (what, where, how to fix) to stderr and exit with `code`."""
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"  hint: {hint}\n")
    sys.stderr.flush()
    raise typer.Exit(code)


def run_guarded(fn: Callable[[], Any]) -> None:
    """Run a click/typer app with standalone_mode=False and map every failure to a clean exit."""
    code: int | str | None  # an exit status (SystemExit's code may be a message)
    try:
        rv = fn()
        code = rv if isinstance(rv, int) else 0
    except typer.Exit as exc:  # click.exceptions.Exit
        code = exc.exit_code
    except typer.Abort:
        sys.stderr.write("aborted\n")
        code = 130
    except typer.TyperException as exc:  # usage errors, bad parameters (typer's vendored click)
        show = getattr(exc, "show", None)
        if show:
            show()
        else:
            sys.stderr.write(f"error: {exc}\n")
        code = getattr(exc, "exit_code", 2)
    except ConfigError as exc:
        sys.stderr.write(f"error: {_redact(str(exc))}\n")
        code = 2
    except CashupError as exc:
        sys.stderr.write(f"error: {_redact(str(exc))}\n")
        code = 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        code = 130
    except BrokenPipeError:  # the reader went away (`cashup ... | head`): end quietly
        discard_stdout()
        code = 0
    except SystemExit as exc:
        if not _pipe_closed():
            raise
        discard_stdout()  # typer met EPIPE and exits 1; a closed pipe is not a failure of ours
        code = 0 if exc.code == 1 else exc.code
    except Exception as exc:  # a bug: one line for the user, the traceback to the log file
        where = _log_crash(exc)
        sys.stderr.write(
            f"error: unexpected {type(exc).__name__}: {_redact(str(exc))}\n"
            f"  this is a bug in CashUp; details were written to {where}\n"
        )
        code = 70
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()
    sys.exit(code)


def _pipe_closed() -> bool:
    """typer wraps stdout/stderr in PacifyFlushWrapper when a write met EPIPE; unwrap them."""
    closed = False
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if type(stream).__name__ == "PacifyFlushWrapper":
            setattr(sys, name, stream.wrapped)
            closed = True
    return closed


def discard_stdout() -> None:
    """After the reader closed our stdout, send later writes (and the flush at exit) to /dev/null,
    so a closed pipe never prints "Exception ignored ... BrokenPipeError"."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError):
        pass


def _redact(text: str) -> str:
    """Registered secrets (vault keys, notification tokens), CASHUP_* secret env vars, secret-looking
    fields and notification URL credentials are masked (see cashup_tui.logging_setup)."""
    from cashup_tui.logging_setup import redact

    return redact(text)


def _log_crash(exc: BaseException) -> str:
    import traceback

    from cashup_tui.paths import log_dir
    from cashup_tui.private_files import ensure_private_dir

    try:
        d = ensure_private_dir(log_dir())
        path = d / "crash.log"
        text = _redact("".join(traceback.format_exception(exc)))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as fh:
            fh.write(text + "\n")
        return str(path)
    except OSError:
        return "(no writable log dir)"


STDIN_LABEL = "<stdin>"


@contextmanager
def input_file(arg: str | os.PathLike[str]) -> Iterator[tuple[Path, str]]:
    """(path, label to show). `-` is stdin, spooled to a private temp file so every reader can sniff
    the format, read it twice and report line numbers; any other value is the file itself."""
    if str(arg) != "-":
        yield Path(arg), str(arg)
        return
    if sys.stdin is None or sys.stdin.isatty():
        fail("'-' reads the data from stdin, but stdin is a terminal",
             hint="pipe it in, e.g. `cat candles.csv | cashup data import - --symbol BTC_USDT`", code=2)
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cashup-stdin-") as d:
        path = Path(d) / "stdin"
        with path.open("wb") as fh:
            src = getattr(sys.stdin, "buffer", None)
            if src is not None:
                shutil.copyfileobj(src, fh)
            else:  # a text-only stdin (test runners)
                fh.write(sys.stdin.read().encode())
        yield path, STDIN_LABEL


def ctx_obj(ctx: typer.Context | None) -> dict[str, Any]:
    c: Any = ctx  # typer's Context, then click's parents
    while c is not None:
        if isinstance(c.obj, dict):
            return c.obj
        c = c.parent
    return {}


def settings_from(ctx: typer.Context | None):
    """Load settings honouring the root `--config` option; ConfigError exits with code 2."""
    from cashup_tui.settings import load_settings

    return load_settings(ctx_obj(ctx).get("config"))


def db_url_from(ctx: typer.Context | None, settings=None, mode: Mode = Mode.DEMO) -> str:
    """Store URL: `--db` flag > CASHUP_DB env > settings.store.url > per-mode default file."""
    obj = ctx_obj(ctx)
    url = obj.get("db") or os.environ.get("CASHUP_DB")
    if not url:
        s = settings or settings_from(ctx)
        url = s.store.url
    if not url:
        from cashup_tui.paths import default_db_path

        url = str(default_db_path(mode))
    return url


def parse_when_option(value: str | None, option: str) -> int | None:
    """A time option (epoch ms or ISO, UTC unless zoned: `domain.candle_layout.parse_when`), or exit 2."""
    if value is None:
        return None
    from cashup_tui.domain.candle_layout import parse_when
    from cashup_tui.domain.errors import CashupError

    try:
        return parse_when(value, option)
    except CashupError as exc:
        fail(exc.args[0], hint=exc.hint, code=2)


def parse_window(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    """`--since` (inclusive) and `--until` (exclusive) as epoch ms, or exit 2 when unreadable or not in order."""
    lo, hi = parse_when_option(since, "--since"), parse_when_option(until, "--until")
    if lo is not None and hi is not None and hi <= lo:
        fail(f"--until ({until}) must be after --since ({since})", hint="--since is inclusive, --until exclusive",
             code=2)
    return lo, hi


def print_json(obj: Any) -> None:
    """One JSON document on stdout (Decimal as string, datetimes ISO)."""
    sys.stdout.write(json.dumps(obj, default=_json_default, ensure_ascii=False, indent=None) + "\n")


def _json_default(o: Any) -> Any:
    from decimal import Decimal

    if isinstance(o, Decimal):
        return str(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "value"):
        return o.value
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def console():
    from rich.console import Console

    return Console()
