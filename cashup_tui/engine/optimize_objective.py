"""User objectives for `cashup optimize --objective SOURCE:FUNCTION` (like freqtrade's hyperopt losses).

SOURCE is a `.py` file, an importable module (`my_pkg.losses`) or `strategy` (the strategy file
itself). FUNCTION takes the trial's metrics (a dict: total_return, cagr, sharpe, sortino, calmar,
max_drawdown, win_rate, profit_factor, exposure, trade_count, final_equity, fees; ratios that are
undefined are None) and returns a number, HIGHER IS BETTER like the built-in objectives (return
`-loss` for a loss), or None for "undefined" (ranked last).

The function travels as source text, as the strategy does: a worker compiles it itself (a worker
on another machine needs cashup installed, not the file), and the text is part of the study's
identity, so editing the function starts a new study.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from cashup_tui.domain.errors import StrategyError, ValidationError

HINT = ("use a built-in name or SOURCE:FUNCTION, SOURCE being a .py file, an importable module or "
        "`strategy` (the strategy file), e.g. --objective my_loss.py:score")


@dataclass(frozen=True)
class UserObjective:
    """A user function shipped to workers: its file's text, where it came from, and its name."""

    source: str
    path: str
    function: str

    @property
    def label(self) -> str:
        return f"{self.path}:{self.function}"


def is_user_objective(spec: str) -> bool:
    return ":" in spec


def resolve(spec: str, *, strategy_source: str, strategy_path: str) -> UserObjective:
    """`SOURCE:FUNCTION` -> a checked UserObjective (the function exists and is callable), else ValidationError."""
    src_ref, _, fn = spec.rpartition(":")
    src_ref, fn = src_ref.strip(), fn.strip()
    if not src_ref or not fn.isidentifier():
        raise ValidationError(f"bad --objective {spec!r}", hint=HINT)
    if src_ref == "strategy":
        text, path = strategy_source, strategy_path
    elif src_ref.endswith(".py"):
        p = Path(src_ref).expanduser()
        if not p.is_file():
            raise ValidationError(f"--objective {spec!r}: file {src_ref} not found", hint=HINT)
        text, path = p.read_text(encoding="utf-8"), str(p.resolve())
    else:
        try:
            found = importlib.util.find_spec(src_ref)
        except (ImportError, ValueError):
            found = None
        if found is None or not found.origin or not found.origin.endswith(".py"):
            raise ValidationError(f"--objective {spec!r}: no Python module {src_ref!r} found", hint=HINT)
        text, path = Path(found.origin).read_text(encoding="utf-8"), found.origin
    obj = UserObjective(text, path, fn)
    compiled(obj)  # errors now, in the command, not in every trial
    return obj


_COMPILED: dict[str, Callable[..., Any]] = {}


def compiled(obj: UserObjective) -> Callable[..., Any]:
    """The function, compiled once per process from the shipped text."""
    key = hashlib.sha1(f"{obj.path}\0{obj.function}\0{obj.source}".encode()).hexdigest()
    fn = _COMPILED.get(key)
    if fn is not None:
        return fn
    ns: dict[str, Any] = {"__name__": f"cashup_objective_{key[:12]}", "__file__": obj.path}
    try:
        exec(compile(obj.source, obj.path, "exec"), ns)
    except SyntaxError as exc:
        raise ValidationError(f"objective file {obj.path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        raise ValidationError(f"objective file {obj.path}{_line(exc, obj.path)}: {type(exc).__name__}: {exc}") from None
    fn = ns.get(obj.function)
    if not callable(fn):
        funcs = sorted(k for k, v in ns.items() if callable(v) and not k.startswith("_") and
                       getattr(v, "__module__", None) == ns["__name__"])
        raise ValidationError(f"--objective {obj.label}: {obj.path} has no function {obj.function!r}",
                              hint=f"functions there: {', '.join(funcs) or '(none)'}")
    _COMPILED[key] = fn
    return cast(Callable[..., Any], fn)  # checked callable above


def score(obj: UserObjective, metrics: dict[str, Any]) -> float | None:
    """The user's value for one trial's metrics: a finite float, or None (undefined); a bad
    return value or an exception fails the trial with the file:line."""
    fn = compiled(obj)
    try:
        v = fn(dict(metrics))
    except Exception as exc:
        raise StrategyError(f"objective {obj.function} raised {type(exc).__name__}: {exc} at "
                            f"{obj.path}{_line(exc, obj.path)}") from None
    if v is None:
        return None
    try:
        if isinstance(v, (bool, str, bytes)):
            raise TypeError
        f = float(v)
    except (TypeError, ValueError):
        raise StrategyError(f"objective {obj.label} returned {type(v).__name__} {v!r}, not a number",
                            hint="return a float (higher is better) or None") from None
    return f if math.isfinite(f) else None


def _line(exc: BaseException, path: str) -> str:
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    return f":{lines[-1]}" if lines else ""
