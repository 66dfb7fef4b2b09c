"""Downloading Gate candles into the store: one series (`data fetch --symbol`) or many (`--symbols --timeframes`).

Every series is paged by the REST adapter and written in its own transaction, so an interrupted
many-symbol fetch keeps the series it finished; run again, it continues after each stored series'
last bar (`--days N` starts N days back only where the store does not already reach that far).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer

DAY_MS = 86_400_000


def fetch_series(db: Any, open_rest: Callable[[], Any], symbol: str, timeframe: str, start: int, end: int, *,
                 rest_url: str | None) -> dict[str, Any]:
    """Download [start, end) of one series, store it, and say what came and which bars the venue lacks.
    `open_rest` gives the Gate REST client (`cli.data.gate_rest`, the composition root's)."""
    import asyncio

    from cashup_tui.domain.errors import TemporaryError
    from cashup_tui.domain.timeframes import timeframe_ms
    from cashup_tui.paths import candle_cache_dir
    from cashup_tui.store import candles
    from cashup_tui.store.timefmt import iso

    step = timeframe_ms(timeframe)

    async def download() -> list[Any]:
        async with open_rest() as rest:
            with progress_bar(f"{symbol} {timeframe}") as prog:
                return await rest.fetch_candles(symbol, timeframe, start, end,
                                                progress=lambda p: prog(p.done_ms - start, end - start))

    try:
        bars = asyncio.run(download())
    except TemporaryError as exc:
        exc.hint = (f"could not reach {rest_url or 'the configured Gate REST URL'}; check the network, or run "
                    "offline with `cashup sim serve` and --rest-url")
        raise
    rows = [(c.open_ms, float(c.open), float(c.high), float(c.low), float(c.close), float(c.volume)) for c in bars]
    # a fetch of the newest bars carries the series' column cache file over (store.candle_cache_upsert)
    stored = candles.upsert_candles(db, symbol, timeframe, rows, cache=candle_cache_dir()) if rows else 0
    times = [c.open_ms for c in bars]
    holes: list[tuple[int, int]] = []  # (first missing, last missing) open times
    prev = start - step
    for t in [*times, end]:
        if t - prev > step:
            holes.append((prev + step, t - step))
        prev = t
    return {
        "symbol": symbol, "timeframe": timeframe, "from": iso(start), "until": iso(end), "bars": len(bars),
        "stored": stored, "first": iso(times[0]) if times else None, "last": iso(times[-1]) if times else None,
        "gaps": len(holes), "missing_bars": sum((b - a) // step + 1 for a, b in holes),
        "gap_ranges": [[iso(a), iso(b)] for a, b in holes[:20]],
    }


def echo_series(out: dict[str, Any]) -> None:
    typer.echo(f"fetched {out['bars']} {out['timeframe']} bars of {out['symbol']} for {out['from']} .. {out['until']} "
               f"(exclusive); stored {out['stored']}")
    if out["gaps"]:
        shown = ", ".join(f"{a}..{b}" for a, b in out["gap_ranges"][:5])
        typer.echo(f"  gaps: {out['gaps']} hole(s), {out['missing_bars']} missing bars (not filled): {shown}"
                   + (" ..." if out["gaps"] > 5 else ""))
    else:
        typer.echo("  gaps: none")


def fetch_many(db: Any, open_rest: Callable[[], Any], symbols: list[str], timeframes: list[str], since: int | None,
               until: int | None, days: int | None, *, rest_url: str | None, as_json: bool) -> None:
    """Each symbol x timeframe in turn, a line per series as it finishes; a failure names the series and says
    which were stored (a rerun continues from them)."""
    import time

    from cashup_tui.cli.common import fail, print_json
    from cashup_tui.domain.errors import CashupError
    from cashup_tui.domain.timeframes import timeframe_ms
    from cashup_tui.store import candles
    from cashup_tui.store.timefmt import iso

    now_ms = int(time.time() * 1000)
    results: list[dict[str, Any]] = []
    stored = {(s.symbol, s.timeframe): s for s in candles.list_series(db, include_funding=False)}
    for symbol in symbols:
        for tf in timeframes:
            step = timeframe_ms(tf)
            end = min(until or now_ms, now_ms - now_ms % step)
            have = stored.get((symbol, tf))
            if since is not None:
                start = since
            else:
                start = end - days * DAY_MS if days else (end - 1000 * step if have is None else have.last_ms + step)
                if days and have is not None and have.first_ms <= start:
                    start = max(start, have.last_ms + step)  # resume: the window's start is already stored
            start -= start % step
            if end <= start:
                out = {"symbol": symbol, "timeframe": tf, "from": iso(start), "until": iso(end), "bars": 0,
                       "stored": 0, "up_to_date": True}
                results.append(out)
                if not as_json:
                    typer.echo(f"{symbol} {tf} is up to date (last stored bar opens {iso(start - step)})")
                continue
            try:
                out = fetch_series(db, open_rest, symbol, tf, start, end, rest_url=rest_url)
            except CashupError as exc:
                done = ", ".join(f"{r['symbol']} {r['timeframe']}" for r in results) or "none"
                fail(f"{symbol} {tf}: {exc.args[0]}", hint=(exc.hint + "; " if exc.hint else "")
                     + f"series stored so far: {done} (run again to continue)")
            results.append(out)
            if not as_json:
                echo_series(out)
    if as_json:
        print_json({"series": results})


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr for long steps (silent when stderr is not a terminal: then rich,
    a noticeable part of a short command's start, is not imported at all)."""
    if not (sys.stderr is not None and sys.stderr.isatty()):
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    prog = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                    console=console, transient=True, disable=not console.is_terminal)
    tasks: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "t" not in tasks:
            tasks["t"] = prog.add_task(label, total=total)
        prog.update(tasks["t"], completed=done, total=total)

    with prog:
        yield update
