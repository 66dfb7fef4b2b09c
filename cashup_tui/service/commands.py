"""Every state-changing user action, written once for both front ends (the workstation and the CLI).

Why one place: placing an order is build -> profile check (audited) -> risk gate -> write-ahead ->
venue, with brackets and trailing distances on top; written twice it drifts. Each command asks
`authorize` first (the front end's profile check: the workstation prompts for the admin passphrase
in a modal, the CLI on the terminal), then acts only through the order manager and the risk engine,
never an adapter. The front ends keep their own audit names and journalled reasons (`record_as`,
`reason`, `source`): those name who acted in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from cashup_tui.domain.enums import OrderType, Side
from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.orders import Order
from cashup_tui.engine.triggers import bracket_legs
from cashup_tui.service.roles import Action, PermissionDenied, require
from cashup_tui.service.views import OrderRequest

if TYPE_CHECKING:
    from cashup_tui.engine.risk import RiskEngine

# A started `runtime.Node` (its om, risk, portfolio and runner are set once `start()` returned; the
# dataclass declares them optional, so it is typed loosely here rather than asserted at every call).
Node = Any
HUNDRED = Decimal(100)


class Authorize(Protocol):
    """The profile check of one user action, audited as `name` (raises PermissionDenied when refused)."""

    def __call__(self, action: Action, name: str, /, *, passphrase: str | None = None, **detail: Any) -> object: ...


class Placed(NamedTuple):
    order: Order
    existed: bool = False  # the client id was already known: nothing new was sent
    legs: tuple[Order, ...] = ()  # a bracket's armed exits (with `wait_legs`)


# -- orders -------------------------------------------------------------------------------------
def order_from(node: Node, req: OrderRequest, *, client_id: str | None = None) -> Order:
    """The order a request describes (not sent); a trail in percent becomes the engine's price distance."""
    om = node.om
    order = om.build(req.symbol, req.side, req.size, order_type=req.order_type, price=req.price,
                     tif=req.tif, reduce_only=req.reduce_only, trigger_price=req.trigger_price,
                     client_id=client_id, post_only=req.post_only)
    return _trailing(node, order, req)


def _trailing(node: Node, order: Order, req: OrderRequest) -> Order:
    """The ticket asks for a trail in percent; the engine trails by a price distance."""
    if req.order_type is not OrderType.TRAILING_STOP or req.trail_pct is None:
        return order
    from msgspec.structs import replace

    inst = node.instruments.get(req.symbol)
    mark = node.cache.mark(req.symbol)
    if inst is None or mark is None:
        raise ValidationError(f"no mark price for {req.symbol} yet: cannot size the trailing distance")
    distance = max(inst.round_price(mark * req.trail_pct / HUNDRED), inst.price_tick)
    return replace(order, trigger_price=distance)


async def place(node: Node, req: OrderRequest, *, authorize: Authorize, record_as: str = "order.submit",
                client_id: str | None = None, wait_legs: bool = False) -> Placed:
    """One order (or an entry with its take-profit and stop-loss) through the risk gate and the order
    manager. `wait_legs`: wait until the bracket's exits are armed and return them too."""
    order = order_from(node, req, client_id=client_id)
    om = node.om
    authorize(Action.PLACE_ORDER, record_as, client_id=order.client_id, side=order.side.value, size=order.size,
              symbol=order.symbol, type=order.order_type.value, price=order.price)
    if not _bracket(req):
        res = await om.submit(order)
        return Placed(res.order, res.existed)
    assert req.stop_loss is not None and req.take_profit is not None
    entry = await om.bracket(order, stop_price=req.stop_loss, take_profit_price=req.take_profit)
    if not wait_legs:
        return Placed(entry)
    await om.idle()  # exits are armed once the entry fills
    linked = [cid for cid, (parent, _) in bracket_legs(om.emulator.brackets).items() if parent == entry.client_id]
    legs = tuple(o for o in map(node.cache.order, linked) if o is not None)
    return Placed(node.cache.order(entry.client_id) or entry, legs=legs)


def _bracket(req: OrderRequest) -> bool:
    """True for an entry with exits; a half bracket is refused (the same words for preview and send)."""
    if req.take_profit is None and req.stop_loss is None:
        return False
    if req.take_profit is None or req.stop_loss is None:
        raise ValidationError("a bracket needs both a take-profit and a stop-loss price",
                              hint="fill both TP and SL, or neither")
    return True


def preview_denial(node: Node, req: OrderRequest, order: Order) -> str | None:
    """Why `place` would refuse `req` (built as `order`), found without sending or recording anything: the
    profile, the bracket's shape, the whole risk gate (`RiskEngine.preview`) and the exits' checks."""
    try:
        require(node.profile, Action.PLACE_ORDER)  # the profile check of `authorize`, without its audit row
        exits: tuple[Callable[[], None], ...] = ()
        if _bracket(req):
            assert req.stop_loss is not None and req.take_profit is not None
            sl, tp = req.stop_loss, req.take_profit
            exits = (lambda: node.om.emulator.check_bracket(order, stop_price=sl, take_profit_price=tp),)
        denial = node.risk.preview(order, *exits)
    except (ValidationError, PermissionDenied) as exc:
        return str(exc)
    return None if denial is None else str(denial).removeprefix("risk: ")


async def amend(node: Node, client_id: str, *, authorize: Authorize, price: Decimal | None = None,
                size: Decimal | None = None, record_as: str = "order.amend") -> Order:
    authorize(Action.AMEND_ORDER, record_as, client_id=client_id, price=price, size=size)
    return await node.om.amend(client_id, price=price, size=size)


async def cancel(node: Node, client_id: str, *, authorize: Authorize, reason: str,
                 record_as: str = "order.cancel") -> Order:
    authorize(Action.CANCEL_ORDER, record_as, client_id=client_id)
    return await node.om.cancel(client_id, reason=reason)


async def cancel_all(node: Node, symbol: str | None, *, authorize: Authorize, reason: str,
                     record_as: str = "order.cancel_all") -> list[Order]:
    authorize(Action.CANCEL_ORDER, record_as, symbol=symbol or "*")
    return await node.om.cancel_all(symbol, reason=reason)


async def close_position(node: Node, symbol: str, fraction: Decimal = Decimal(1), *, authorize: Authorize,
                         record_as: str = "position.close") -> Order | None:
    """Reduce-only market order for `fraction` of the net position (None if flat)."""
    authorize(Action.CLOSE_POSITION, record_as, symbol=symbol, fraction=fraction)
    om = node.om
    if fraction >= 1:
        return await om.close_position(symbol)
    pos = node.portfolio.positions.get(symbol)
    inst = node.instruments.get(symbol)
    if pos is None or pos.is_flat or inst is None:
        return None
    size = inst.round_size(abs(pos.size) * fraction)
    if size <= 0:
        raise ValidationError(f"{symbol}: position too small to reduce by {fraction:%}")
    side = Side.SELL if pos.size > 0 else Side.BUY
    order = om.build(symbol, side, size, order_type=OrderType.MARKET, reduce_only=True)
    return (await om.submit(order)).order


# -- the kill switch and trading state -------------------------------------------------------------
async def kill(node: Node, level: int, reason: str, *, authorize: Authorize, source: str) -> list[str]:
    """Engage kill level 1-4 on a running node; returns what was done at the venue."""
    authorize(Action.KILL_SWITCH, "kill_switch", level=level, reason=reason)
    return await node.om.kill(level, reason, source=source)


def resume(risk: RiskEngine, *, authorize: Authorize, reason: str, source: str,
           passphrase: str | None = None) -> int:
    """Back to ACTIVE: an admin action (AdminPassphraseRequired asks the front end to prompt). Returns
    the kill level it left."""
    authorize(Action.RESUME_TRADING, "risk.resume", passphrase=passphrase, reason=reason)
    old = risk.status.kill_level
    risk.resume(reason, source=source)
    return int(old)


# -- strategies ------------------------------------------------------------------------------------
async def start_strategy(node: Node, name: str, symbol: str, params: dict[str, object], *,
                         authorize: Authorize, timeframe: str = "1m", notional: Decimal | None = None,
                         keep: bool = False, symbols: list[str] | None = None) -> str:
    """Resume a paused slot, or load `name`, add it on `symbol` (trading `notional` USDT per unit of
    exposure; `keep`: resumed after a restart) and warm it up; returns the slot name. A portfolio strategy
    trades `symbols` with `notional` USDT of capital."""
    authorize(Action.START_STRATEGY, "strategy.start", strategy=name, symbol=symbol, timeframe=timeframe,
              notional=notional, params=",".join(f"{k}={v}" for k, v in params.items()))
    runner = node.runner
    for key in (name, f"{name}-{symbol}"):  # a row is either a slot or a strategy name
        if key in runner.slots:
            runner.resume(key)
            if runner.slots[key].portfolio:  # the bars it missed while stopped: fetched, not made up
                await node.warm_up(key)
            return key
    from cashup_tui.engine.strategy import load_strategy, strategy_dirs
    from cashup_tui.paths import user_strategies_dir

    cls = load_strategy(name, strategy_dirs(user_strategies_dir()))
    if symbols:
        from cashup_tui.engine.portfolio_slot import add_portfolio

        slot = add_portfolio(runner, cls(**params), symbols, timeframe, order_notional=notional or Decimal(1000),
                             start=True, keep=keep)
    else:
        slot = runner.add(cls(**params), symbol, timeframe, order_notional=notional or Decimal(1000), start=True,
                          keep=keep)
    await node.warm_up(slot.name)
    return str(slot.name)


def stop_strategy(node: Node, strategy_id: str, *, authorize: Authorize) -> None:
    authorize(Action.STOP_STRATEGY, "strategy.stop", strategy=strategy_id)
    node.runner.stop(strategy_id)


def pause_strategy(node: Node, strategy_id: str, *, authorize: Authorize) -> None:
    authorize(Action.STOP_STRATEGY, "strategy.pause", strategy=strategy_id)
    node.runner.pause(strategy_id)
