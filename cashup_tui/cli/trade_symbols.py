"""`cashup trade`'s symbols: --symbol for a one-symbol strategy, --symbols A,B,C for a portfolio strategy,
and the per-symbol lines of a running portfolio slot (target weight vs held position and PnL)."""

from __future__ import annotations

from typing import Any

from cashup_tui.cli.common import fail


def parse_symbols(strategy: str, portfolio: bool, symbol: str | None, symbols: str | None) -> list[str]:
    """The contracts to trade; a wrong combination exits 2 saying what to pass."""
    if symbol and symbols:
        fail("pass --symbol (one-symbol strategy) or --symbols (portfolio strategy), not both", code=2,
             hint=f"{strategy} is a " + ("portfolio strategy: --symbols A,B,C" if portfolio else "one-symbol "
                                         "strategy: --symbol A"))
    if portfolio:
        if not symbols:
            fail(f"{strategy} is a portfolio strategy: it trades several symbols", code=2,
                 hint=f"pass them comma-separated, e.g. --strategy {strategy} --symbols BTC_USDT,ETH_USDT,SOL_USDT")
        out = [s.strip().upper() for s in str(symbols).split(",") if s.strip()]
        dup = sorted({s for s in out if out.count(s) > 1})
        if not out or dup:
            fail(f"--symbols {symbols!r}: " + (f"{', '.join(dup)} listed twice" if dup else "no symbol in it"),
                 code=2, hint="e.g. --symbols BTC_USDT,ETH_USDT,SOL_USDT")
        return out
    given = [s.strip().upper() for s in (symbols or symbol or "").split(",") if s.strip()]
    if len(given) != 1:
        fail(f"{strategy} trades one symbol: " + ("got " + ",".join(given) if given else "none given"), code=2,
             hint=f"pass --symbol BTC_USDT (run one `cashup trade` per symbol), or backtest it over several "
                  f"as sleeves: cashup backtest run {strategy} --symbols ...")
    return given


def legs_line(status: dict[str, Any]) -> str:
    """' | BTC_USDT w 0.50/0.49 pos 12 pnl +1.20 | ...': target weight / held weight, contracts, net PnL."""
    return "".join(f" | {x['symbol']} w {x['target_weight']:.2f}/{x['weight']:.2f} pos {x['position']} "
                   f"pnl {x['net_pnl']:+.2f}" for x in status.get("legs", []))
