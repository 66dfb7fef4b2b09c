"""`cashup data import|list|export|resample`: OHLCV candles (and funding rates) in the store.

Re-importing a file is idempotent: bars already stored with identical values are skipped;
bars stored with *different* values are refused (exit 1) unless `--replace`, which replaces
the whole stored series in the same transaction. Funding-rate files are detected and go to
the funding table (listed with timeframe `funding`). Exit codes: 0 ok, 1 bad data, 2 bad config.

Heavy modules (pandas, numpy, sqlalchemy) and the export and fetch helpers are imported inside the
commands: `cashup --help` and `cashup data list` stay fast.

For a `fetch` command (candles downloaded from Gate): `db = open_db(ctx)` then
`cashup_tui.store.candles.upsert_candles(db, symbol, timeframe, rows)` where rows is a DataFrame
(open_ms, open, high, low, close, volume), a dict of arrays, or (open_ms, o, h, l, c, v) tuples;
it overwrites revised bars by key and writes everything in one transaction. Funding:
`candles.upsert_funding(db, symbol, [(ts_ms, Decimal), ...])`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cashup_tui.cli.choices import ExportFormat, GateInterval, ImportFormat, complete_timeframe
from cashup_tui.cli.common import (
    STDIN_LABEL,
    db_url_from,
    fail,
    input_file,
    parse_when_option,
    print_json,
    settings_from,
)
from cashup_tui.domain.errors import CashupError, ConfigError

if TYPE_CHECKING:
    from cashup_tui.adapters.candle_files import CandleData
    from cashup_tui.adapters.gateio.rest import GateRest
    from cashup_tui.store.candle_import import ImportResult

app = typer.Typer(help="Import, list, export, resample and fetch OHLCV candles.", no_args_is_help=True)

_SYMBOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")


@contextmanager
def guarded() -> Iterator[None]:
    """Turn domain errors into clean messages and exit codes (also under CliRunner)."""
    try:
        yield
    except ConfigError as exc:
        fail(exc.args[0] if exc.args else str(exc), hint=exc.hint, code=2)
    except CashupError as exc:
        fail(exc.args[0] if exc.args else str(exc), hint=exc.hint, code=1)


def open_db(ctx: typer.Context) -> Any:
    """The store named by --db / CASHUP_DB / [store] url (created and migrated if needed)."""
    from cashup_tui.store import open_store

    s = settings_from(ctx)
    return open_store(db_url_from(ctx, s), synchronous=s.store.synchronous, busy_timeout_ms=s.store.busy_timeout_ms)


def _import_candles(ctx: typer.Context, symbol: str, chunks: Iterator[tuple[str, Any]], replace: bool) -> ImportResult:
    """Into a SQLite store file on the stdlib driver (no SQLAlchemy import: `store.candle_import`), else
    (another backend, an older schema to migrate...) through `open_store`; the same import either way."""
    from cashup_tui.paths import candle_cache_dir
    from cashup_tui.store.candle_import import import_candle_chunks_sqlite

    s = settings_from(ctx)
    cache = candle_cache_dir()  # an import into an empty series writes its cache file (store.candle_cache_fill)
    res = import_candle_chunks_sqlite(db_url_from(ctx, s), symbol, chunks, replace=replace,
                                      synchronous=s.store.synchronous, busy_timeout_ms=s.store.busy_timeout_ms,
                                      cache=cache)
    if res is not None:
        return res
    from cashup_tui.store import candles

    db = open_db(ctx)
    try:
        return candles.import_candle_chunks(db, symbol, chunks, replace=replace, cache=cache)
    finally:
        db.close()


def _import_funding(ctx: typer.Context, symbol: str, data: CandleData, replace: bool) -> ImportResult:
    from cashup_tui.store import candles

    db = open_db(ctx)
    try:
        return candles.import_funding(db, symbol, zip(data.open_ms.tolist(), data.rates, strict=True), replace=replace)
    finally:
        db.close()


def _check_symbol(symbol: str) -> str:
    symbol = symbol.strip()
    if not _SYMBOL_RE.match(symbol):
        fail(f"symbol {symbol!r} is not valid", hint="use a Gate contract name such as BTC_USDT (mark series: mark_BTC_USDT)")
    return symbol


def _check_tf(tf: str, option: str) -> str:
    from cashup_tui.domain.timeframes import timeframe_ms

    try:
        timeframe_ms(tf)
    except CashupError as exc:
        fail(f"{option} {tf!r}: {exc.args[0]}", hint=exc.hint, code=1)
    from cashup_tui.store.candle_list import canonical_timeframe

    return canonical_timeframe(tf)


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="CSV, parquet or feather file with OHLCV candles (or funding rates); "
                               "'-' reads stdin."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Contract name, e.g. BTC_USDT (mark prices: mark_BTC_USDT)."),
    timeframe: str = typer.Option(None, "--timeframe", "-t", help="Bar length, e.g. 1m, 5m, 1h (default: inferred).",
                                  autocompletion=complete_timeframe),
    fmt: ImportFormat = typer.Option("auto", "--format", "-f", help="File format (auto: from the extension)."),
    replace: bool = typer.Option(False, "--replace", help="Replace the stored series instead of refusing conflicts."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Validate FILE and load it into the store in one transaction (nothing is half-written)."""
    symbol = _check_symbol(symbol)
    tf = _check_tf(timeframe, "--timeframe") if timeframe else None
    with guarded():
        from itertools import chain

        from cashup_tui.adapters.candle_stream import StreamSummary, iter_candle_file, read_ahead
        from cashup_tui.cli.data_fetch import progress_bar as _progress

        data = StreamSummary()  # the whole file, gathered as its chunks are read and written
        with input_file(file) as (path, label), _progress(f"importing {Path(label).name}") as prog, \
                closing(read_ahead(iter_candle_file(path, timeframe=tf, fmt=fmt, progress=prog, label=label,
                                                    summary=data))) as chunks:
            first = next(chunks)  # the first chunk read and validated before the store is opened
            if first.kind == "funding":
                series_tf = "funding"
                res = _import_funding(ctx, symbol, first, replace)
            else:
                series_tf = first.timeframe
                try:  # every chunk in one transaction: a problem in a later one leaves nothing imported
                    res = _import_candles(ctx, symbol, ((c.timeframe, c.columns()) for c in chain([first], chunks)),
                                          replace)
                except CashupError as exc:
                    from cashup_tui.store.lite import StoreError

                    if not (first.has_volume or symbol.startswith("mark_") or isinstance(exc, StoreError | ConfigError)):
                        exc.hint = (exc.hint + f"; a file without volume is usually mark prices: "
                                    f"import it as --symbol mark_{symbol}")
                    raise
        from cashup_tui.store.timefmt import iso

    out: dict[str, Any] = {
        "file": file if file != "-" else STDIN_LABEL, "symbol": symbol, "timeframe": series_tf, "kind": data.kind,
        "rows": data.rows, "inserted": res.inserted, "unchanged": res.unchanged, "replaced": res.replaced,
        "first": iso(int(data.first_ms or 0)), "last": iso(int(data.last_ms or 0)),
        "gaps": data.gaps.count, "missing_bars": data.gaps.missing,
        "gap_ranges": [[iso(a), iso(b)] for a, b in data.gaps.ranges], "notes": data.notes,
    }
    if as_json:
        print_json(out)
        return
    what = "funding rates" if data.kind == "funding" else "bars"
    typer.echo(f"imported {res.inserted} {what} of {symbol} {series_tf} from {Path(out['file']).name} "
               f"({out['first']} .. {out['last']}); {res.unchanged} already stored"
               + (f"; replaced {res.replaced} stored rows" if replace else ""))
    for note in data.notes:
        typer.echo(f"  note: {note}")
    if data.gaps.count:
        shown = ", ".join(f"{a}..{b}" for a, b in out["gap_ranges"])
        typer.echo(f"  gaps: {data.gaps.count} hole(s), {data.gaps.missing} missing bars (not filled): {shown}"
                   + (" ..." if data.gaps.count > len(data.gaps.ranges) else ""))
    elif data.kind == "candles":
        typer.echo("  gaps: none")


@app.command("list")
def list_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Stored series: symbol, timeframe, first, last (UTC), rows, gaps."""
    with guarded():
        from cashup_tui.store.candle_list import series_infos
        from cashup_tui.store.candle_stats_check import list_series_sqlite
        from cashup_tui.store.timefmt import iso

        s = settings_from(ctx)
        fast = list_series_sqlite(db_url_from(ctx, s), busy_timeout_ms=s.store.busy_timeout_ms)
        if fast is not None:  # a current SQLite store with current stats: no SQLAlchemy import
            series = series_infos(*fast)
        else:  # open_store creates, migrates or explains; list_series rebuilds missing or stale stats
            from cashup_tui.store import candles

            db = open_db(ctx)
            try:
                series = candles.list_series(db)
            finally:
                db.close()
    rows: list[dict[str, Any]] = [
        {"symbol": s.symbol, "timeframe": s.timeframe, "first": iso(s.first_ms), "last": iso(s.last_ms),
         "first_ms": s.first_ms, "last_ms": s.last_ms, "rows": s.rows, "gaps": s.gaps, "missing_bars": s.missing}
        for s in series
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("no candles stored yet; add some with: cashup data import FILE --symbol BTC_USDT --timeframe 1h")
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    if not con.is_terminal:
        con = Console(width=max(con.width, 120))
    t = Table("symbol", "timeframe", "first (UTC)", "last (UTC)", "rows", "gaps", "missing", box=None)
    for r in rows:
        t.add_row(r["symbol"], r["timeframe"], r["first"], r["last"], f"{r['rows']:,}", str(r["gaps"]),
                  f"{r['missing_bars']:,}")
    con.print(t)


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    out: str = typer.Argument(..., help="OUT.csv or OUT.parquet; '-' writes CSV to stdout."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Contract name."),
    timeframe: str = typer.Option(..., "--timeframe", "-t", help="Timeframe of the stored series, or 'funding'.",
                                  autocompletion=complete_timeframe),
    start: str = typer.Option(None, "--from", help="First open time (UTC date, ISO time or epoch ms), inclusive."),
    end: str = typer.Option(None, "--to", help="End open time (UTC date, ISO time or epoch ms), exclusive."),
    fmt: ExportFormat = typer.Option("auto", "--format", "-f", help="File format (auto: from the extension)."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUT if it exists."),
) -> None:
    """Write a stored series to CSV/parquet (columns open_time_ms,open,high,low,close,volume; re-importable)."""
    symbol = _check_symbol(symbol)
    if timeframe != "funding":
        timeframe = _check_tf(timeframe, "--timeframe")
    lo, hi = parse_when_option(start, "--from"), parse_when_option(end, "--to")
    if lo is not None and hi is not None and hi <= lo:
        fail(f"--to ({end}) must be after --from ({start})", hint="--from is inclusive, --to exclusive", code=2)
    from cashup_tui.cli.export import export_target, write_export

    target = export_target(out, fmt, force)
    if target.kind == "parquet":
        from cashup_tui.extras import require

        require("pyarrow", extra="parquet", why="parquet files need pyarrow")
    with guarded():
        import pandas as pd

        from cashup_tui.store import candles

        db = open_db(ctx)
        try:
            if timeframe == "funding":
                rows = candles.load_funding(db, symbol, lo, None if hi is None else hi - 1)
                df = pd.DataFrame({"funding_time_ms": [t for t, _ in rows], "funding_rate": [str(r) for _, r in rows]})
            else:
                df = candles.load_candles(db, symbol, timeframe, lo, None if hi is None else hi - 1).rename(columns={"open_ms": "open_time_ms"})
            available = [f"{s.symbol} {s.timeframe}" for s in candles.list_series(db)]
        finally:
            db.close()
        if len(df) == 0:
            fail(f"no {symbol} {timeframe} data stored" + (" in that range" if lo or hi else ""),
                 hint=("stored: " + ", ".join(available[:10])) if available else "import some with: cashup data import")
        write_export(df, target)
    sys.stderr.write(f"wrote {len(df)} rows of {symbol} {timeframe} to {target.label}\n")


@app.command("resample")
def resample_cmd(
    ctx: typer.Context,
    symbol: str = typer.Option(..., "--symbol", "-s", help="Contract name."),
    from_tf: str = typer.Option(..., "--from-tf", help="Stored source timeframe, e.g. 1m."),
    to_tf: str = typer.Option(..., "--to-tf", help="Target timeframe, a whole multiple, e.g. 5m."),
    replace: bool = typer.Option(False, "--replace", help="Replace an existing target series that differs."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Build a higher-timeframe series from a stored one and store it (o first, h max, l min, c last, v sum)."""
    symbol = _check_symbol(symbol)
    from_tf, to_tf = _check_tf(from_tf, "--from-tf"), _check_tf(to_tf, "--to-tf")
    with guarded():
        from cashup_tui.adapters.resample import resample_ohlcv
        from cashup_tui.domain.errors import DataError
        from cashup_tui.domain.timeframes import check_resample
        from cashup_tui.store import candles
        from cashup_tui.store.timefmt import iso

        check_resample(from_tf, to_tf)
        db = open_db(ctx)
        try:
            df = candles.load_candles(db, symbol, from_tf)
            if len(df) == 0:
                raise DataError(f"no {symbol} {from_tf} candles stored",
                                hint=f"import them first: cashup data import FILE --symbol {symbol} --timeframe {from_tf}")
            res = resample_ohlcv({c: df[c].to_numpy() for c in df.columns}, from_tf, to_tf)
            if res.rows == 0:
                raise DataError(f"{symbol} {from_tf} has fewer bars than one complete {to_tf} bar; nothing stored")
            out = candles.import_candles(db, symbol, to_tf, res.columns, replace=replace)
        finally:
            db.close()
    info: dict[str, Any] = {
        "symbol": symbol, "from_tf": from_tf, "to_tf": to_tf, "source_rows": len(df), "rows": res.rows,
        "inserted": out.inserted, "unchanged": out.unchanged, "dropped_leading": res.dropped_leading,
        "dropped_trailing": res.dropped_trailing, "partial_bars": len(res.partial_interior),
        "partial_first": [iso(t) for t in res.partial_interior[:5]],
    }
    if as_json:
        print_json(info)
        return
    typer.echo(f"resampled {len(df)} {from_tf} bars of {symbol} into {res.rows} {to_tf} bars "
               f"({out.inserted} new, {out.unchanged} already stored)")
    if res.dropped_leading:
        typer.echo(f"  dropped the incomplete first {to_tf} bar ({res.dropped_leading} of {res.src_bars_per_bar} source bars)")
    if res.dropped_trailing:
        typer.echo(f"  dropped the incomplete last {to_tf} bar ({res.dropped_trailing} of {res.src_bars_per_bar} source bars)")
    if res.partial_interior:
        typer.echo(f"  {len(res.partial_interior)} {to_tf} bars were built from fewer source bars because of gaps "
                   f"(first: {', '.join(info['partial_first'])})")


@app.command("fetch")
def fetch_cmd(
    ctx: typer.Context,
    symbol: str = typer.Option(None, "--symbol", "-s", help="Gate contract, e.g. BTC_USDT."),
    timeframe: GateInterval = typer.Option("1h", "--timeframe", "-t", help="Gate candle interval."),
    symbols: str = typer.Option(None, "--symbols", help="Several contracts, e.g. BTC_USDT,ETH_USDT,SOL_USDT: one "
                                "series after another, a line each; a rerun continues where a stopped one left off."),
    timeframes: str = typer.Option(None, "--timeframes", help="Several Gate intervals for every symbol, e.g. 1h,4h."),
    days: int = typer.Option(None, "--days", min=1, max=36_500, help="Fetch the last N days (where the store does not "
                             "already have them: a stored series reaching that far continues after its last bar)."),
    since: str = typer.Option(None, "--since", help="First bar (date, ISO time or epoch ms, UTC). Default: continue "
                              "after the last stored bar, else 1000 bars back."),
    until: str = typer.Option(None, "--until", help="End, exclusive (date, ISO time or epoch ms). Default: now."),
    rest_url: str = typer.Option(None, "--rest-url", help="Gate REST base URL, e.g. the simulator's "
                                 "http://127.0.0.1:PORT/api/v4 (default: setting gate.rest_url or CASHUP_GATE_REST_URL)."),
    testnet: bool = typer.Option(False, "--testnet", help="Use the gate.testnet_rest_url setting."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Download OHLCV from Gate (paged, 1999 bars per request) into the store; gaps are reported, never filled.
    Only closed bars are stored; re-fetching a range overwrites it with the venue's values."""
    import time

    from cashup_tui.cli.data_fetch import echo_series, fetch_many, fetch_series

    if bool(symbol) == bool(symbols):
        fail("give --symbol S or --symbols A,B,C", hint="e.g. --symbol BTC_USDT, or --symbols BTC_USDT,ETH_USDT "
             "--timeframes 1h,4h --days 30", code=2)
    if days and since:
        fail("--days and --since both set the first bar", hint="give one of them", code=2)
    tfs = [t.strip() for t in timeframes.split(",") if t.strip()] if timeframes else [str(timeframe)]
    tfs = [_check_tf(t, "--timeframes" if timeframes else "--timeframe") for t in tfs]
    with guarded():
        from cashup_tui.adapters.gateio.rest_translate import GATE_INTERVALS
        from cashup_tui.domain.errors import ValidationError
        from cashup_tui.domain.timeframes import timeframe_ms
        from cashup_tui.store import candles
        from cashup_tui.store.timefmt import iso

        for tf in tfs:
            if tf not in GATE_INTERVALS:
                raise ValidationError(f"--timeframe {tf!r} is not a Gate candle interval",
                                      hint=f"use one of {', '.join(GATE_INTERVALS)} (resample others with cashup data resample)")
        settings = settings_from(ctx)

        def open_rest() -> GateRest:
            return gate_rest(settings, testnet=testnet, rest_url=rest_url)

        if symbols or timeframes or days:
            syms = [_check_symbol(x) for x in (symbols or symbol).split(",") if x.strip()]
            db = open_db(ctx)
            try:
                fetch_many(db, open_rest, syms, tfs, parse_when_option(since, "--since"),
                           parse_when_option(until, "--until"), days, rest_url=rest_url, as_json=as_json)
            finally:
                db.close()
            return
        symbol = _check_symbol(symbol)
        timeframe = tfs[0]  # type: ignore[assignment]  # the canonical spelling of a choice
        step = timeframe_ms(timeframe)
        now_ms = int(time.time() * 1000)
        end = min(parse_when_option(until, "--until") or now_ms, now_ms - now_ms % step)  # closed bars only
        db = open_db(ctx)
        try:
            start = parse_when_option(since, "--since")
            if start is None:
                last = next((s.last_ms for s in candles.list_series(db, include_funding=False)
                             if s.symbol == symbol and s.timeframe == timeframe), None)
                start = last + step if last is not None else end - 1000 * step
            start -= start % step
            if end <= start and since is None and until is None:
                typer.echo(f"{symbol} {timeframe} is up to date (last stored bar opens {iso(start - step)})")
                return
            if end <= start:
                raise ValidationError(f"nothing to fetch: {iso(start)} is not before {iso(end)}",
                                      hint="the stored series is up to date, or --until is not after --since")
            out = fetch_series(db, open_rest, symbol, timeframe, start, end, rest_url=rest_url)
        finally:
            db.close()
    if as_json:
        print_json(out)
        return
    echo_series(out)

if __name__ == "__main__":  # pragma: no cover
    app(sys.argv[1:])


def gate_rest(settings: Any, *, testnet: bool = False, rest_url: str | None = None, api_key: str | None = None,
              api_secret: str | None = None, **kwargs: Any) -> GateRest:
    """A `GateRest` from settings (the adapter reads none itself). Endpoint: explicit `rest_url` >
    testnet/live URL from settings (CASHUP_GATE_REST_URL overrides); keys: explicit > settings."""
    from cashup_tui.adapters.gateio.rest import GateRest

    g = settings.gate
    url = rest_url or (g.testnet_rest_url if testnet else g.rest_url)
    key = api_key if api_key is not None else (g.api_key.reveal() if g.api_key else None)
    secret = api_secret if api_secret is not None else (g.api_secret.reveal() if g.api_secret else None)
    return GateRest(url, api_key=key, api_secret=secret, settle=g.settle, timeout_s=g.request_timeout_s, **kwargs)
