"""How `backtest run` shows a result: the metrics table, trades table, equity chart and the JSON writer.

Shared by one-symbol runs, sleeves (`backtest_sleeves.py`) and `optimize`; rich, plotext and orjson are
imported inside the functions so importing this module costs nothing.
"""

from __future__ import annotations

from typing import Any


def emit_json(obj: Any) -> None:
    """One JSON document on stdout; orjson because a run can have tens of thousands of trades."""
    import sys

    import orjson

    sys.stdout.flush()
    sys.stdout.buffer.write(orjson.dumps(obj, default=str, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    sys.stdout.buffer.flush()


def _pct(x: Any, *, none: str = "-") -> str:
    """A fraction as a percentage; `none` for an undefined one (CAGR: `n/a`, the span was under 30 days)."""
    return none if x is None else f"{x * 100:,.2f}%"


def _f2(x: Any) -> str:
    return "-" if x is None else f"{x:,.2f}"


def metrics_table(m: dict[str, Any], *, title: str = ""):
    from rich.table import Table

    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column("metric", style="bold")
    t.add_column("value", justify="right")
    t.add_column("metric", style="bold")
    t.add_column("value", justify="right")
    rows = [
        ("final equity", _f2(m.get("final_equity"))), ("total return", _pct(m.get("total_return"))),
        ("CAGR", _pct(m.get("cagr"), none="n/a")), ("max drawdown", _pct(m.get("max_drawdown"))),
        ("Sharpe", _f2(m.get("sharpe"))), ("Sortino", _f2(m.get("sortino"))),
        ("Calmar", _f2(m.get("calmar"))), ("profit factor", _f2(m.get("profit_factor"))),
        ("trades", str(m.get("trade_count"))), ("win rate", _pct(m.get("win_rate"))),
        ("exposure", _pct(m.get("exposure"))), ("fees", _f2(m.get("fees"))),
        ("funding", _f2(m.get("funding"))), ("bars", f"{m.get('bars', 0):,}"),
    ]
    for i in range(0, len(rows), 2):
        a, b = rows[i], rows[i + 1] if i + 1 < len(rows) else ("", "")
        t.add_row(a[0], a[1], b[0], b[1])
    return t


def correlation_table(corr: dict[str, dict[str, float | None]], title: str):
    """A symbol x symbol correlation table (sleeves and portfolio runs)."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    t.add_column("")
    for sym in corr:
        t.add_column(sym, justify="right")
    for a, row in corr.items():
        t.add_row(a, *[_f2(v) for v in row.values()])
    return t


def trades_table(rows: list[dict[str, Any]], *, title: str = ""):
    from datetime import UTC, datetime

    from rich.table import Table

    def ts(ms: Any) -> str:
        return "-" if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%y-%m-%d %H:%M")

    t = Table(title=title, title_justify="left")
    for col in ("entry (UTC)", "exit", "side", "qty", "entry px", "exit px", "pnl", "why"):
        t.add_column(col, justify="left" if col in ("entry (UTC)", "exit", "side", "why") else "right", no_wrap=True)
    for r in rows:
        pnl = r["pnl"]
        t.add_row(ts(r["entry_time"]), ts(r["exit_time"]), r["side"], f"{r['qty']:.6g}", f"{r['entry_price']:,.2f}",
                  f"{r['exit_price']:,.2f}", f"[{'green' if pnl >= 0 else 'red'}]{pnl:,.2f}[/]", r.get("exit_reason", ""))
    return t


def equity_chart(time_ms: Any, equity: Any, *, width: int = 100, height: int = 22) -> Any:
    """Equity and drawdown as a plotext text chart (a fresh figure, public API: cli/charts.py)."""
    import numpy as np
    from rich.text import Text

    from cashup_tui.cli.charts import build, plotext_figure
    from cashup_tui.engine.backtest.metrics import drawdown_curve

    eq = np.asarray(equity, dtype=float)
    if eq.size < 2:
        return Text("")
    step = max(1, eq.size // (width * 2))
    idx = np.r_[np.arange(0, eq.size, step), eq.size - 1]
    x = (np.asarray(time_ms)[idx] / 86_400_000.0).tolist()  # days since epoch
    x = [v - x[0] for v in x]
    dd = (drawdown_curve(eq)[idx] * 100).tolist()
    with plotext_figure(width, height) as plt:
        plt.subplots(2, 1)
        plt.subplot(1, 1)
        plt.plot(x, eq[idx].tolist(), marker="braille", color="green")
        plt.title("equity (USDT)")
        plt.theme("clear")
        plt.subplot(2, 1)
        plt.plot(x, dd, marker="braille", color="red", fillx=True)
        plt.title("drawdown (%)")
        plt.xlabel("days")
        plt.theme("clear")
        return build(plt)
