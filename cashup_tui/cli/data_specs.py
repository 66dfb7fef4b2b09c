"""The one parser of several symbols' data options: `--data SYM=FILE` repeated, or `--symbols A,B
--timeframe TF` (stored candles). Used by sleeves and portfolio runs, `backtest lookahead` and
`optimize`. Only stdlib at import time, like the other CLI modules.
"""

from __future__ import annotations

import re

_SPEC = re.compile(r"^\s*([A-Za-z0-9]+_[A-Za-z0-9]+)\s*=\s*(.*?)\s*$")

HINT = "e.g. --data BTC_USDT=btc.csv --data ETH_USDT=eth.csv, or --symbols BTC_USDT,ETH_USDT --timeframe 1h"


def is_spec(value: str) -> bool:
    """Whether one --data value is SYM=FILE (not a plain file)."""
    return bool(_SPEC.match(value))


def parse_specs(data: list[str] | None, symbols: str | None = None, symbol: str | None = None,
                timeframe: str | None = None, *, file_names: bool = False,
                option: str = "--data") -> list[tuple[str, str | None]]:
    """[(SYMBOL, FILE)] from --data SYM=FILE ..., or [(SYMBOL, None)] from --symbols (read from the store).

    Symbols are upper-cased; a repeated symbol, an empty part, stdin ('-') or both option forms are
    refused (ValidationError). `file_names`: a plain FILE is allowed and gets its symbol from the
    file name when it is loaded (symbol "" here). `option` names the option in messages (--funding's
    SYM=FILE list uses it too)."""
    from cashup_tui.domain.errors import ValidationError

    if symbol or (symbols and data):
        raise ValidationError("give either --data SYM=FILE ... or --symbols A,B --timeframe TF (not both, "
                              "and not --symbol)", hint=HINT)
    out: list[tuple[str, str | None]] = []
    if symbols:
        if not timeframe:
            raise ValidationError("--symbols needs --timeframe", hint="e.g. --symbols BTC_USDT,ETH_USDT --timeframe 1h")
        out = [(s.strip().upper(), None) for s in symbols.split(",") if s.strip()]
        if not out:
            raise ValidationError("--symbols is empty", hint="e.g. --symbols BTC_USDT,ETH_USDT")
    for d in [] if symbols else data or []:
        m = _SPEC.match(d)
        if m:
            sym, path = m.group(1).upper(), m.group(2)
        elif file_names and "=" not in d and d.strip():
            sym, path = "", d.strip()
        else:
            raise ValidationError(f"{option} {d}: with several symbols every file is SYM=FILE", hint=HINT)
        if not path or path == "-":
            raise ValidationError(f"{option} {d}: " + ("several symbols are read from files, not stdin ('-')"
                                                     if path else "no file after SYM="), hint=HINT)
        out.append((sym, path))
    seen: set[str] = set()
    for sym, _ in out:
        if sym and sym in seen:
            raise ValidationError(f"{sym} is given twice", hint=f"one {option} (or one --symbols entry) per symbol")
        seen.add(sym)
    if not out:
        raise ValidationError("no symbols given", hint=HINT)
    return out
