"""The always-visible status bar: mode, equity, available margin, day PnL, trading state, stream health, lag, clock."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from cashup_tui.app import fmt
from cashup_tui.domain.enums import Mode, TradingState
from cashup_tui.service.views import HeaderStatus

MODE_STYLE = {
    Mode.DEMO: "bold black on cyan",
    Mode.PAPER: "bold black on yellow",
    Mode.TESTNET: "bold black on magenta",
    Mode.LIVE: "bold white on red",
    Mode.BACKTEST: "bold black on white",
}
STATE_STYLE = {
    TradingState.ACTIVE: "bold green",
    TradingState.REDUCING: "bold black on yellow",
    TradingState.HALTED: "bold white on red",
}


def render_status(s: HeaderStatus, width: int) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f" {s.mode.value.upper()} ", style=MODE_STYLE.get(s.mode, "bold"))
    if s.profile == "viewer":
        t.append(" VIEW ONLY ", style="bold black on white")
    t.append(" eq ")
    t.append(fmt.num(s.equity), style="bold")
    if s.available is not None:  # the venue's available margin: what a new order may use
        t.append(" avail ")
        t.append(fmt.num(s.available), style="bold" if s.available > 0 else "bold red")
    t.append(" day ")
    t.append_text(fmt.signed(s.day_pnl))
    t.append(" ")
    label = s.trading_state.value.upper()
    if s.kill_level:
        label += f" K{s.kill_level}"
    t.append(f" {label} ", style=STATE_STYLE.get(s.trading_state, "bold"))
    for st in s.streams:
        if st.connected and st.age_ms is not None and st.age_ms < 5_000:
            mark, style = "●", "green"
        elif st.connected:
            mark, style = "◐", "yellow"
        else:
            mark, style = "○", "red"
        t.append(f" {mark}", style=style)
        t.append(f"{st.name}")
        if width >= 120:
            age = "—" if st.age_ms is None else f"{st.age_ms / 1000:.1f}s"
            t.append(f" {age} {st.msgs_per_s:.0f}/s r{st.reconnects}", style="dim")
    if width >= 100:
        if s.latency_ms is not None:
            t.append(f"  ack {s.latency_ms:.1f}ms", style="dim")
        t.append(f"  lag {s.loop_lag_ms:.0f}ms", style="dim" if s.loop_lag_ms < 100 else "bold red")
    t.append(f"  {fmt.clock(s.now_ms)}Z ")
    return t


class StatusBar(Static):
    """Redrawn only when the rendered text changes."""

    def show_connecting(self, mode: Mode) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" {mode.value.upper()} ", style=MODE_STYLE.get(mode, "bold"))
        t.append("  connecting to the venue, reconciling orders and positions…", style="yellow")
        self.update(t)

    def show_failure(self, mode: Mode, message: str) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" {mode.value.upper()} ", style=MODE_STYLE.get(mode, "bold"))
        t.append(f"  NOT CONNECTED: {message.splitlines()[0]}", style="bold white on red")
        self.update(t)

    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; }"

    def __init__(self, **kw: object) -> None:
        super().__init__("", **kw)  # type: ignore[arg-type]
        self._last = ""

    def show_status(self, status: HeaderStatus) -> None:
        text = render_status(status, self.size.width or 80)
        if text.plain != self._last:
            self._last = text.plain
            self.update(text, layout=False)  # one line, always: no re-layout of the screen


class KeyBar(Static):
    """The key hints at the bottom. Static on purpose: Textual's Footer rebuilds itself on every focus
    change (each tab switch), which cost more than the pane switch itself."""

    DEFAULT_CSS = "KeyBar { height: 1; background: $panel; }"

    def __init__(self, keys: list[tuple[str, str]], **kw: object) -> None:
        super().__init__("", **kw)  # type: ignore[arg-type]
        self.keys = keys

    def on_mount(self) -> None:
        self.update(self.render_keys())

    def render_keys(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        for key, desc in self.keys:
            t.append(f" {key} ", style="bold")
            t.append(f"{desc} ", style="dim")
        t.append(" ^p palette  ? help", style="bold")
        return t
