"""Risk pane: trading state and kill-switch level, limits vs usage as bars, the venue's account
(panes/account.py), exposure, VaR, stress tests, and what each kill level does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from cashup_tui.app import fmt
from cashup_tui.app.panes.account import render_account
from cashup_tui.app.panes.status import STATE_STYLE
from cashup_tui.app.widgets.charts import EquityChart
from cashup_tui.service.views import RiskView

KILL_LEVELS = (
    (0, "normal trading"),
    (1, "stop entries"),
    (2, "reduce only"),
    (3, "cancel all and flatten"),
    (4, "flatten and halt"),
)
# what each level does at the venue (engine/kill.py); each does all the one below does, and more
KILL_EFFECTS = {
    1: "no new entries; resting entry orders cancelled, exits and stops stay",
    2: "as 1, and every order not flagged reduce-only is cancelled",
    3: "cancel every order, close every position",
    4: "as 3, then halt: nothing new is sent, not even reduce-only",
}


def kill_rows() -> list[tuple[str, str]]:
    """The kill levels for the help screen: ("K1", "stop entries: what it does")."""
    names = dict(KILL_LEVELS)
    return [(f"K{n}", f"{names[n]}: {what}") for n, what in KILL_EFFECTS.items()]


def kill_legend(width: int) -> Text:
    """What each kill level does: in full where it fits, else one abbreviated line (help has the rest)."""
    names = dict(KILL_LEVELS)
    if width >= 100:
        return Text("\n".join(f"  K{n} {names[n]}: {what}" for n, what in KILL_EFFECTS.items()), style="dim")
    return Text("  " + "  ".join(f"K{n} {names[n]}" for n in KILL_EFFECTS) + "  (? help)", style="dim",
                no_wrap=True, overflow="ellipsis")


def render_risk(r: RiskView, width: int) -> Table:
    """By priority, top down: trading state and kill level, limits vs usage, the account, exposure and
    VaR, stress tests; the kill legend last (a narrow terminal shows the first screenful only)."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column()
    head = Text(no_wrap=True, overflow="ellipsis")
    head.append(f" {r.trading_state.value.upper()} ", style=STATE_STYLE.get(r.trading_state, "bold"))
    head.append(f"  kill level {r.kill_level}: {dict(KILL_LEVELS).get(r.kill_level, '?')}   [k] kill  [r] resume")
    grid.add_row(head)
    bar_w = max(10, min(40, width - 50))
    limits = Table(box=None, expand=False, show_header=True, header_style="bold")
    limits.add_column("Limit")
    limits.add_column("Usage", no_wrap=True)
    limits.add_column("Used", justify="right")
    limits.add_column("Max", justify="right")
    for lim in r.limits:
        style = "red" if lim.ratio >= 0.9 else "yellow" if lim.ratio >= 0.7 else "green"
        limits.add_row(lim.rule, Text(fmt.bar(lim.ratio, bar_w).ljust(bar_w, "·"), style=style),
                       fmt.num(lim.used), fmt.num(lim.limit))
    grid.add_row(limits)
    grid.add_row(render_account(r.account))
    exp = Table(box=None, header_style="bold")
    exp.add_column("Exposure")
    exp.add_column("Side")
    exp.add_column("Notional", justify="right")
    for sym, side, notional in r.exposure:
        exp.add_row(sym, side, fmt.num(notional))
    var = Text(f"VaR 1d  95%: {fmt.num(r.var95)}   99%: {fmt.num(r.var99)} USDT")
    grid.add_row(exp)
    grid.add_row(var)
    stress = Table(box=None, header_style="bold", title="Stress tests", title_justify="left")
    stress.add_column("Scenario")
    stress.add_column("PnL", justify="right")
    stress.add_column("Margin", justify="right")
    stress.add_column("Liquidated")
    for row in r.stress:
        stress.add_row(row.scenario, fmt.signed(row.pnl), fmt.num(row.margin), ", ".join(row.liquidated) or "—")
    grid.add_row(stress)
    grid.add_row(kill_legend(width))
    return grid


class RiskPane(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static("", id="risk-body")
        yield EquityChart(id="risk-equity")

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._key: object = None

    def show(self, r: RiskView, equity: tuple[list[int], list[float]] | None = None) -> None:
        """`equity`: the account's equity over the session, drawn under the figures (after them by priority)."""
        key = (r, self.size.width)
        if key != self._key:
            self._key = key
            self.query_one("#risk-body", Static).update(render_risk(r, self.size.width or 80))
        chart = self.query_one(EquityChart)
        chart.display = equity is not None
        if equity is not None:
            chart.show_series("account equity (USDT), time UTC", *equity)
