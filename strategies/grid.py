"""Grid trading (event hooks only): resting limit orders every `spacing_pct` around a centre.

It cannot be vectorised (each fill changes what is resting), so it runs on the event engine:
`cashup backtest run grid --engine event ...`, and in paper/live trading.
"""

from __future__ import annotations

from cashup_tui.engine.strategy import Param, Strategy, ValidationError


class Grid(Strategy):
    """Buy every `spacing_pct` below the centre, sell one level above each filled buy."""

    vectorised = False

    levels = Param(5, min=1, max=50, step=1, help="buy levels below the centre price")
    spacing_pct = Param(1.0, min=0.05, max=20.0, step=0.25, help="distance between levels, % of centre")
    order_pct = Param(10.0, min=0.1, max=100.0, step=1.0, help="equity % committed per level")

    def validate(self) -> None:
        if self.levels * self.order_pct > 100.0:
            raise ValidationError(
                f"grid: levels x order_pct = {self.levels * self.order_pct:g}% of equity is more than 100%",
                hint="lower --param levels or --param order_pct",
            )

    def on_start(self, ctx) -> None:
        self._centre = 0.0
        self._qty = 0.0
        self._sells: dict[str, float] = {}

    def on_bar(self, ctx, bar) -> None:
        if self._centre == 0.0:  # first bar: lay the grid around its close
            self._centre = bar.close
            self._qty = ctx.equity * self.order_pct / 100.0 / bar.close
            step = self.spacing_pct / 100.0 * bar.close
            for i in range(1, self.levels + 1):
                ctx.buy(self._qty, price=round(bar.close - i * step, 8), tag=f"grid-buy-{i}")

    def on_fill(self, ctx, fill) -> None:
        step = self.spacing_pct / 100.0 * self._centre
        if fill.side == "buy":  # take profit one level higher
            ctx.sell(fill.qty, price=round(fill.price + step, 8), tag="grid-sell")
        else:  # re-arm the level below the sale
            ctx.buy(fill.qty, price=round(fill.price - step, 8), tag="grid-buy")
