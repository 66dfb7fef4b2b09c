"""`cashup trade`: run a strategy headless (demo, paper, testnet, live), e.g. under tmux/systemd.

Logs and journals like the app: orders, fills, risk events and the audit trail go to the
store; progress lines go to stdout. SIGINT/SIGTERM/SIGHUP stop it cleanly (the journal is
already committed before every venue call, so even `kill -9` loses nothing).

It holds the node lock of (store, mode) (`node_lock.py`): a second `cashup trade` or workstation
there exits 1 naming the holder. It exits 1 when the strategy failed, so a supervisor sees it.
"""

from __future__ import annotations

from typing import Any

import typer

from cashup_tui.cli.choices import Mode, complete_timeframe
from cashup_tui.cli.common import fail, print_json
from cashup_tui.cli.engine_cli import (
    MODE_HELP,
    authorize,
    confirm_live,
    decimal_arg,
    live_admin_passphrase,
    resolve_mode,
)


def command(
    ctx: typer.Context,
    strategy: str = typer.Option(..., "--strategy", "-s", help="Strategy name (see `cashup strategies list`) or a .py path."),
    symbol: str = typer.Option(None, "--symbol", help="Gate contract of a one-symbol strategy, e.g. BTC_USDT."),
    symbols: str = typer.Option(None, "--symbols",
                                help="Contracts of a portfolio strategy, comma-separated: BTC_USDT,ETH_USDT,SOL_USDT."),
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    timeframe: str = typer.Option("1m", "--timeframe", "--tf", help="Bar timeframe the strategy runs on.",
                                  autocompletion=complete_timeframe),
    param: list[str] = typer.Option([], "--param", "-P", help="Strategy parameter name=value (repeatable)."),
    duration: float = typer.Option(0.0, "--duration", help="Stop after this many seconds (0 = until Ctrl-C)."),
    notional: str = typer.Option("1000", "--notional", help="USDT per unit of target exposure (position size); "
                                 "a portfolio strategy's capital (weights are fractions of it plus its PnL)."),
    name: str = typer.Option(None, "--name", help="Instance name (default STRATEGY-SYMBOL, STRATEGY-FIRST+N for a "
                                                  "portfolio); state is kept under it."),
    warmup: int = typer.Option(300, "--warmup", help="Recent bars loaded before the first live bar (0 = none)."),
    status_every: float = typer.Option(10.0, "--status-every", help="Seconds between status lines (0 = quiet)."),
    confirm: bool = typer.Option(False, "--confirm-live", help="Confirm live trading without a prompt (audited)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary at the end."),
) -> None:
    """Run STRATEGY on SYMBOL (a portfolio strategy on SYMBOLS) through the engine (risk gate, write-ahead
    journal, reconciliation)."""
    import asyncio
    import signal
    import time

    from cashup_tui import node_lock
    from cashup_tui.cli.trade_symbols import legs_line, parse_symbols
    from cashup_tui.engine.runner import Slot
    from cashup_tui.engine.strategy import load_strategy, parse_params, strategy_dirs
    from cashup_tui.logging_setup import configure_logging
    from cashup_tui.paths import user_strategies_dir
    from cashup_tui.runtime import Node, build_node

    settings, m, url = resolve_mode(ctx, mode)
    usdt = decimal_arg(notional, "--notional")
    if usdt is None or not usdt.is_finite() or usdt <= 0:
        fail(f"--notional {notional} must be a positive number of USDT", code=2)
    if duration < 0:
        fail("--duration must be >= 0", code=2)
    cls = load_strategy(strategy, strategy_dirs(user_strategies_dir()))
    portfolio = bool(getattr(cls, "portfolio", False))
    syms = parse_symbols(strategy, portfolio, symbol, symbols)
    sym = ",".join(syms)
    strat = cls(**parse_params(param))
    live_ok = confirm_live(m, confirm)
    passphrase = live_admin_passphrase(m) if live_ok else None
    log_path = configure_logging(settings.log.level, file=settings.log.file or None)
    lock = node_lock.hold(url, m, command=f"cashup trade {strategy} {sym} ({m})")

    def busy_s(node: Node) -> float:
        meter = getattr(node.journal, "busy", None)  # StoreJournal only; an in-memory journal never waits
        return meter.waited_s if meter is not None else 0.0

    def say(msg: str) -> None:  # progress: stdout, or stderr when stdout carries the JSON summary
        typer.echo(msg, err=as_json)

    async def main() -> dict[str, Any]:
        node = build_node(settings, m, db_url=url, symbols=syms, confirm_live=live_ok, actor="cli",
                          admin_passphrase=passphrase)
        try:  # the profile check comes first: a viewer never connects to trade
            authorize(node.session, "start_strategy", "trade.start", strategy=strategy, mode=m, symbol=sym,
                      timeframe=timeframe, params=dict(strat.params))
        except BaseException:
            await node.stop()
            raise
        stop = asyncio.Event()
        stopped_by: list[int] = []  # SIGHUP/SIGTERM leave Gate's dead-man armed; Ctrl-C and --duration disarm

        def on_signal(sig: int) -> None:
            stopped_by.append(sig)
            stop.set()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(sig, on_signal, sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - non-POSIX
                pass
        await node.start()
        try:
            runner, pf, risk = node.runner, node.portfolio, node.risk
            if runner is None or pf is None or risk is None:  # start() builds them for a trading node
                raise RuntimeError(f"the {m} node started without its strategy runner, portfolio or risk engine")
            for c in node.reconcile_changes:
                say(f"reconciled: {c}")
            slot: Slot
            if portfolio:
                from cashup_tui.engine.portfolio_slot import add_portfolio

                slot = add_portfolio(runner, strat, syms, timeframe, name=name, order_notional=usdt, start=True)
            else:
                slot = runner.add(strat, sym, timeframe, name=name, order_notional=usdt, start=True)
            loaded = await node.warm_up(slot.name, warmup) if warmup else 0
            say(f"{m.upper()}: {slot.name} running on {sym} {timeframe} ({loaded} warm-up bars); "
                       f"state {slot.state.value}; log {log_path}")
            start = time.monotonic()
            next_status = start + status_every if status_every else float("inf")
            busy_seen = 0.0
            while not stop.is_set():
                now = time.monotonic()
                if (duration and now - start >= duration) or slot.state.value == "failed":
                    break  # a failed strategy trades no more: exit 1 now, so a supervisor sees it
                if now >= next_status:
                    next_status = now + status_every
                    pos, st = pf.positions.get(sym), runner.status_of(slot.name)
                    waited = busy_s(node) - busy_seen  # time another process held the store's write lock
                    busy_seen += waited
                    slow = f" store slow: waited {waited:.1f} s for another process's write lock" if waited else ""
                    say(f"[{int(now - start)}s] {slot.state.value} bars {slot.bars_seen} orders {slot.orders_sent} "
                               + (f"rebalances {st['rebalances']} " if portfolio else
                                  f"position {pos.size if pos else 0} ")
                               + f"equity {pf.equity():.2f} trading {risk.state.value}" + slow + legs_line(st)
                               + (f" error: {slot.error}" if slot.error else ""))
                try:
                    await asyncio.wait_for(stop.wait(), timeout=0.2)
                except TimeoutError:
                    pass
            await runner.idle()
            failed = slot.state.value == "failed"  # stop() below sets STOPPED: note it first
            runner.stop(slot.name)
            status = runner.status_of(slot.name)
            held = {s: p.size if (p := pf.positions.get(s)) else 0 for s in syms}
            return {"mode": m, "strategy": status, "failed": failed or bool(status["error"]),
                    "store_busy_s": round(busy_s(node), 3),
                    **({"positions": held} if portfolio else {"position": held[sym]}),
                    "equity": pf.equity(), "trading_state": risk.state.value,
                    "open_orders": len(node.cache.open_orders())}
        finally:
            await node.stop(disarm_dead_man=not (set(stopped_by) & {signal.SIGTERM, signal.SIGHUP}))

    try:
        summary = asyncio.run(main())
    finally:
        if lock is not None:
            lock.release()
    st = summary["strategy"]
    if as_json:
        print_json(summary)
    else:
        held = legs_line(st)[3:] if "legs" in st else f"position {summary['position']}"
        typer.echo(f"stopped: {st['name']} {st['bars']} bars, {st['orders']} orders, {st['fills']} fills, "
                   f"{held}, net PnL {st['net_pnl']:.2f} (realised {st['realised_pnl']:.2f}, "
                   f"unrealised {st['unrealised_pnl']:.2f}, fees {st['fees']:.2f}, funding {st['funding']:.2f}), "
                   f"equity {summary['equity']:.2f} USDT" + (f"; strategy error: {st['error']}" if st["error"] else ""))
    if summary["failed"]:
        fail(f"strategy {st['name']} failed: {st['error'] or 'see the log'}",
             hint=f"fix the cause, then `cashup strategies` / restart it; the log is {log_path}")
