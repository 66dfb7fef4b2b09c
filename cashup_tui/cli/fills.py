"""`cashup fills`: every execution in the local journal, with the realised PnL it produced.

The journal holds what the venue reported (fills arrive on the private stream and by reconciliation:
`cashup orders sync` fetches the latest). The rows (realised PnL per fill, round trips) are built by
`service/fills.py`, the same builder as the workstation's Fills pane.
"""

from __future__ import annotations

import csv
import sys
from decimal import Decimal
from typing import Any

import typer

from cashup_tui.cli.choices import Mode
from cashup_tui.cli.common import fail, parse_window, print_json
from cashup_tui.cli.engine_cli import MODE_HELP, open_journal, resolve_mode
from cashup_tui.engine.funding import settlements
from cashup_tui.service.fills import FILL_COLUMNS as COLUMNS
from cashup_tui.service.fills import TRIP_COLUMNS, fill_rows, trip_rows


def _multipliers(symbols: set[str], positions: list[Any]) -> dict[str, Decimal]:
    from cashup_tui.domain.errors import CashupError
    from cashup_tui.engine.backtest.model import known_instrument

    out = {p.symbol: p.quanto_multiplier for p in positions}
    for s in symbols - out.keys():
        try:
            out[s] = known_instrument(s).quanto_multiplier
        except CashupError:
            fail(f"no contract size known for {s}", hint="run `cashup orders sync` once so its position is stored")
    return out


def command(
    ctx: typer.Context,
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    symbol: str = typer.Option(None, "--symbol", "-s", help="Only this contract."),
    since: str = typer.Option(None, "--since", help="From this time (UTC date, ISO time or epoch ms), inclusive."),
    until: str = typer.Option(None, "--until", help="Up to this time (UTC date, ISO time or epoch ms), exclusive."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV (one header line, one row per fill)."),
    trips: bool = typer.Option(False, "--round-trips",
                               help="Closed positions instead: entry, exit, PnL, fees, funding, duration."),
) -> None:
    """Fills from the local journal (no network): time, symbol, side, size, price, fee, realised PnL, ids."""
    if as_json and as_csv:
        fail("give --json or --csv, not both", code=2)
    lo, hi = parse_window(since, until)
    settings, m, url = resolve_mode(ctx, mode)
    store, journal = open_journal(settings, m, url)
    try:
        fills = journal.load_fills()
        strategies = journal.order_strategies({f.client_id for f in fills})
        positions = journal.load_positions()
        funding = settlements(journal)
    finally:
        store.close()
    # realised PnL needs every earlier fill of the contract: filter after the replay
    mults = _multipliers({f.symbol for f in fills}, positions)
    if trips:
        return _print_trips(m, fills, mults, symbol, lo, hi, as_json, as_csv, funding)
    rows = fill_rows(fills, strategies, mults, symbol=symbol, since_ms=lo, until_ms=hi)
    if _machine_output(m, "fills", rows, COLUMNS, as_json, as_csv):
        return
    if not rows:
        typer.echo(f"no fills ({m})" + (f" for {symbol.upper()}" if symbol else ""))
        return
    for r in rows:
        typer.echo(f"{r['time']}  {r['symbol']:<10} {r['side'].upper():<4} {r['size']} @ {r['price']}  "
                   f"fee {r['fee']}  realised {r['realised_pnl']:.4f}  {r['client_id']}")
    fees = sum((r["fee"] for r in rows), Decimal(0))
    realised = sum((r["realised_pnl"] for r in rows), Decimal(0))
    typer.echo(f"{len(rows)} fills; fees {fees:.4f} USDT; realised {realised:.4f} USDT ({m})")


def _print_trips(m: str, fills: list[Any], mults: dict[str, Decimal], symbol: str | None, lo: int | None,
                 hi: int | None, as_json: bool, as_csv: bool, funding: list[tuple[int, str, Decimal]]) -> None:
    """Closed positions (round trips) that closed in [lo, hi), with the funding booked while each was open."""
    rows = trip_rows(fills, mults, symbol=symbol, since_ms=lo, until_ms=hi, funding=funding)
    if _machine_output(m, "round_trips", rows, TRIP_COLUMNS, as_json, as_csv):
        return
    if not rows:
        typer.echo(f"no closed positions ({m})")
        return
    for r in rows:
        typer.echo(f"{r['close']}  {r['symbol']:<10} {r['side']:<5} {r['size']}  {r['entry_price']:.8g} -> "
                   f"{r['exit_price']:.8g}  net {r['net_pnl']:.4f} (fees {r['fees']:.4f}, funding {r['funding']:+.4f})  "
                   f"{r['duration_s']:.0f} s")
    net = sum((r["net_pnl"] for r in rows), Decimal(0))
    typer.echo(f"{len(rows)} round trips; net {net:.4f} USDT ({m})")


def _machine_output(m: str, key: str, rows: list[dict[str, Any]], columns: tuple[str, ...], as_json: bool,
                    as_csv: bool) -> bool:
    """`--json` ({"mode", key: rows}) or `--csv` (a header, one row each) on stdout; False for text."""
    if as_json:
        print_json({"mode": m, key: rows})
        return True
    if as_csv:
        w = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return True
    return False
