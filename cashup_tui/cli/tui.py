"""`cashup tui` (and `cashup` with no command): open the workstation."""

from __future__ import annotations

import typer

from cashup_tui.cli.choices import Mode
from cashup_tui.cli.engine_cli import MODE_HELP, confirm_live, live_admin_passphrase, resolve_mode

app = typer.Typer(help="Open the workstation (the default with no command).", invoke_without_command=True)


@app.callback()
def tui(
    ctx: typer.Context,
    mode: Mode = typer.Option(None, "--mode", "-m", help=MODE_HELP, case_sensitive=False),
    symbols: str = typer.Option(None, "--symbols", help="Comma-separated watchlist, e.g. BTC_USDT,ETH_USDT."),
    confirm_live_flag: bool = typer.Option(False, "--confirm-live", help="Headless confirmation for live mode (audited)."),
) -> None:
    """Open the Textual workstation in DEMO mode unless --mode says otherwise."""
    settings, m, db_url = resolve_mode(ctx, mode)
    live_ok = confirm_live(m, confirm_live_flag)
    passphrase = live_admin_passphrase(m) if live_ok else None
    syms = [s.strip().upper() for s in symbols.split(",") if s.strip()] if symbols else None
    run_workstation(settings, m, db_url, symbols=syms, live_ok=live_ok, admin_passphrase=passphrase)


def run_workstation(settings, mode: str, db_url: str, *, symbols: list[str] | None = None, live_ok: bool = False,
                    headless_size: tuple[int, int] | None = None, admin_passphrase: str | None = None) -> int:
    """Build the node for `mode`, wrap it for the app, run the app until it exits. Holds the node lock
    of (store, mode) throughout: a second workstation or `cashup trade` there is refused."""
    from cashup_tui import node_lock

    lock = node_lock.hold(db_url, mode, command=f"cashup (workstation, {mode})")
    try:
        return _run_app(settings, mode, db_url, symbols=symbols, live_ok=live_ok, admin_passphrase=admin_passphrase)
    finally:
        if lock is not None:
            lock.release()


def _run_app(settings, mode: str, db_url: str, *, symbols: list[str] | None, live_ok: bool,
             admin_passphrase: str | None) -> int:
    from cashup_tui.logging_setup import configure_logging

    log_path = configure_logging(settings.log.level, file=settings.log.file or None)
    app = make_app(settings, mode, db_url, symbols=symbols, live_ok=live_ok, admin_passphrase=admin_passphrase)
    guard = _guard(app)
    try:
        code = app.run() or 0
    finally:
        guard.uninstall()
    if app.return_code not in (None, 0) and not guard.terminal_gone:
        typer.echo(f"the workstation stopped with an error; see {log_path}", err=True)
    return int(code)


def make_app(settings, mode: str, db_url: str, *, symbols: list[str] | None = None, live_ok: bool = False,
             admin_passphrase: str | None = None, clock=None, sim_running: bool = True,
             id_session: str | None = None):  # type: ignore[no-untyped-def]
    """The workstation as `cashup` runs it (the node is built inside the app, after the first paint);
    the tests drive this same factory. `clock` (an engine clock: node, simulator, websockets, app),
    `sim_running` and `id_session`: see `runtime.build_node` (a reproducible demo for snapshots)."""
    import time

    from cashup_tui.app.app import CashupApp
    from cashup_tui.service.config_edit import ConfigFile
    from cashup_tui.service.workstation import EngineWorkstation
    from cashup_tui.settings import render_toml

    def build():  # runs inside the app, after the first paint (the engine imports take about a second)
        from cashup_tui.runtime import build_node

        return build_node(settings, mode, db_url=db_url, symbols=symbols, confirm_live=live_ok,
                          admin_passphrase=admin_passphrase, clock=clock, sim_running=sim_running,
                          id_session=id_session)

    mono = (lambda: clock.monotonic_ms() / 1000) if clock is not None else time.monotonic
    ws = EngineWorkstation(build, mode=mode, symbols=symbols or settings.ui.watchlist or settings.sim.symbols,
                           clock=mono)
    ws.config = ConfigFile(settings.config_file or None, running=settings)  # Settings, alerts and `/` write here
    keys = "set" if settings.gate.api_key else "not set in the environment (see `cashup keys status`)"
    return CashupApp(ws, refresh_hz=settings.ui.refresh_hz,
                     settings_text=(settings.source, render_toml(settings), keys), clock=mono)


def _guard(app):  # type: ignore[no-untyped-def]
    """SIGHUP/SIGTERM stop the node cleanly (bounded by a hard exit); the terminal driver survives its
    pty going away (app/hangup.py); under textual-serve, the browser leaving does the same (app/served.py)."""
    import logging
    import sys

    from textual import constants

    from cashup_tui.app.hangup import HangupSafeDriver, ShutdownGuard
    from cashup_tui.app.serial_keys import use_esc_first_parser
    from cashup_tui.app.served import WEB_DRIVER, ServedDriver

    guard = ShutdownGuard(app.stop_for_signal, note=logging.getLogger("cashup.app").critical).install()
    use_esc_first_parser()  # Esc then a key in one read is Esc, then the key (app/serial_keys.py)
    if constants.DRIVER is None and sys.platform != "win32":
        app.driver_class = HangupSafeDriver
    elif constants.DRIVER == WEB_DRIVER:  # under `cashup serve`: leaving the browser stops the node cleanly
        app.driver_class = ServedDriver
        ServedDriver.guard = guard
    app.shutdown_guard = guard
    return guard
