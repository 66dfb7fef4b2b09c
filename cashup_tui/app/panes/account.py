"""The account section (on the Risk pane): the venue's futures account as Gate reports it: wallet
balance, available, margin used (position + order margin), maintenance margin, margin ratio and
unrealised PnL. Nothing is recomputed here: the numbers come from `service.margin.AccountView`."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from cashup_tui.app import fmt
from cashup_tui.service.margin import AccountView


def ratio_text(pct: object) -> Text:
    """Margin ratio (maintenance / equity): yellow from 50%, red from 80% (liquidation near 100%)."""
    if pct is None:
        return Text("—")
    f = float(pct)  # type: ignore[arg-type]
    return Text(f"{f:.2f}%", style="bold red" if f >= 80 else "yellow" if f >= 50 else "green")


def render_account(a: AccountView | None) -> Table:
    t = Table(box=None, header_style="bold", title="Account (venue)", title_justify="left", show_header=False)
    t.add_column("k")
    t.add_column("v", justify="right")
    t.add_column("k2")
    t.add_column("v2", justify="right")
    if a is None:
        t.add_row("not reported yet", "", "", "")
        return t
    t.add_row("wallet", fmt.num(a.wallet), "equity", fmt.num(a.equity))
    t.add_row("available", fmt.num(a.available), "unrealised PnL", fmt.signed(a.unrealised_pnl))
    t.add_row("margin used", fmt.num(a.margin_used), "position / order", f"{fmt.num(a.position_margin)} / "
              f"{fmt.num(a.order_margin)}")
    t.add_row("maintenance", fmt.num(a.maintenance_margin), "margin ratio", ratio_text(a.margin_ratio_pct))
    return t
