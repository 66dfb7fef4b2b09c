"""Composition root: builds a trading node for demo | paper | testnet | live from settings.

Why one place: this is the only module that names concrete adapters. The app and the
headless CLI get a `Node` with the same engine wiring in every mode:

- demo:    the Gate simulator (`SimServer`) in-process on a loopback port; our Gate websocket
           client and ccxt REST adapter talk to it with its made-up keys. No network, no keys.
- paper:   market data from Gate (or the simulator, via CASHUP_GATE_REST_URL/WS_URL); fills by
           the shared `Venue` model locally against the live book (`adapters/sim/execution.py`).
- testnet / live: Gate's endpoints with the user's keys (env, vault or keyring). Live needs a
           start-up key check and an explicit confirmation (recorded in the audit log); Gate's
           countdown_cancel_all dead-man switch is armed while the node is healthy.

Start-up order: store -> journal replay -> venue connection -> reconcile
(orders, fills, positions, balances) -> only then may strategies trade. The running loop
(`engine/supervisor.py`) copies market data into the cache, feeds marks to the portfolio and
local triggers, feeds the paper venue, drives the strategy runner and the stale-feed / loss-limit
rules. What start-up opens is closed, newest first, by one `AsyncExitStack` on stop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cashup_tui.domain.enums import GATE_MODES, LOCAL_MODES, TRADING_MODES, Mode
from cashup_tui.domain.errors import AuthenticationError, CashupError, ConfigError
from cashup_tui.domain.events import FeedConnected, FeedDisconnected
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.ports import Execution, Journal, MarketData, StreamHealth
from cashup_tui.engine.bus import EventBus
from cashup_tui.engine.cache import Cache
from cashup_tui.engine.clock import LiveClock, TestClock
from cashup_tui.engine.journal import MemoryJournal
from cashup_tui.engine.order_manager import LEVERAGE_KEY, OrderManager
from cashup_tui.engine.portfolio import Portfolio
from cashup_tui.engine.price_guard import PriceGuard
from cashup_tui.engine.risk import RiskEngine, RiskLimits
from cashup_tui.engine.runner import StrategyRunner
from cashup_tui.engine.supervisor import Supervisor
from cashup_tui.service.roles import Action, AuditSink, Role, Session
from cashup_tui.settings import Settings

if TYPE_CHECKING:
    from cashup_tui.adapters.gateio.rest import GateRest
    from cashup_tui.adapters.notify import NotificationService
    from cashup_tui.adapters.sim.server import SimServer
    from cashup_tui.domain.alerts import AlertEngine, AlertFired
    from cashup_tui.store import Store
    from cashup_tui.venue import Venue

log = logging.getLogger("cashup.runtime")
SEED_PREFIX = "t-seed"


@dataclass
class Node:
    """Everything one running mode needs; `await node.start()` / `await node.stop()`."""

    mode: Mode
    settings: Settings
    journal: Journal
    symbols: list[str]
    clock: LiveClock | TestClock = field(default_factory=LiveClock)
    bus: EventBus = field(default_factory=EventBus)
    cache: Cache = field(default_factory=Cache)
    store: Store | None = None
    sim: SimServer | None = None
    rest: GateRest | None = None
    market: MarketData | None = None
    execution: Execution | None = None
    paper_venue: Venue | None = None
    notifier: NotificationService | None = None  # None: no [notify] urls
    alerts: AlertEngine | None = None  # built from [notify] alerts at start
    alerts_fired: list[AlertFired] = field(default_factory=list)  # recent AlertFired, newest last (UI reads them)
    instruments: dict[str, Instrument] = field(default_factory=dict)
    portfolio: Portfolio | None = None
    risk: RiskEngine | None = None
    om: OrderManager | None = None
    runner: StrategyRunner | None = None
    confirm_live: bool = False
    session: Session | None = None  # the profile at the keyboard (ui.profile); every user action asks it
    admin_passphrase: str | None = field(default=None, repr=False)  # live switch only; dropped once checked
    explicit_symbols: bool = True
    loop_hz: float = 10.0
    dead_man_s: int = 30
    started: bool = False
    reconcile_changes: list[str] = field(default_factory=list)
    supervisor: Supervisor | None = None  # the running loop (built with the engine)
    sim_running: bool = True  # demo: False holds the simulator's market still until stepped (`node.sim.step`)
    id_session: str | None = None  # the client-id namespace; None: a fresh one per process
    _pump: Callable[[], object] | None = None  # the paper venue's events onto its stream (after each update)
    _resources: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack, repr=False)

    # -- the person at the keyboard --------------------------------------------------------------
    @property
    def profile(self) -> Role:
        return self.session.role if self.session is not None else Role.TRADER

    def authorize(self, action: Action, name: str, *, passphrase: str | None = None, **detail: Any) -> Role:
        """Ask the session whether this user action may run and write its audit row `name` (allowed or
        denied). Raises PermissionDenied / AdminPassphraseRequired; the caller has done nothing yet."""
        if self.session is None:
            self.session = make_session(self.settings, self.mode, journal_audit(self.journal, self.clock.now_ms))
        return self.session.authorize(action, passphrase=passphrase, record_as=name, **detail)

    # -- start-up -------------------------------------------------------------------------------
    async def start(self, *, trade: bool = True) -> Node:
        """Connect, load, reconcile. `trade=False` skips market data (list/cancel/sync commands)."""
        try:
            execution = await self._connect(trade)
            om = self._build_engine(execution)
            await self._start_notifier()
            self._build_alerts()
            sup = self.supervisor = self._build_supervisor(execution, om)
            om.load(replay_fills=self.mode is not Mode.DEMO)  # a demo simulator starts fresh every run
            om.missing_position_is_flat = self.mode is Mode.DEMO
            await execution.start()
            om.start()
            self._on_stop("order manager", om.stop)
            if trade:
                await sup.wait_for_market(timeout_s=10.0)
            await om.reconcile()
            self.reconcile_changes = list(om.changes_log)
            await sup.arm_dead_man()
            sup.start()
            self.started = True
            self.journal.audit(self.clock.now_ms(), "engine", "node.start", f"mode={self.mode}")
            # what start-up loaded (contracts, engine, adapters, and in the workstation its widgets) lives
            # as long as the node: keep it out of full collections, which would stall the loop and key presses
            # (the one gc.freeze of the process)
            gc.collect()
            gc.freeze()
            return self
        except BaseException:
            await self.stop()
            raise

    def _on_stop(self, what: str, close: Callable[[], Awaitable[Any]]) -> None:
        """Run `close` on stop (newest first); a failure there is logged, never raised."""
        async def quietly() -> None:
            try:
                await close()
            except Exception as exc:  # stopping must finish
                log.warning("stop: closing the %s failed: %s: %s", what, type(exc).__name__, exc)

        self._resources.push_async_callback(quietly)

    async def _connect(self, trade: bool) -> Execution:
        s = self.settings
        from cashup_tui.adapters.gateio.rest import GateRest

        if self.mode is Mode.DEMO:
            from cashup_tui.adapters.sim.server import SimServer, wall_ms

            # the market and venue run on the node's clock; our clients sign requests on the wall clock
            listed = self.symbols + [x for x in s.sim.symbols if x not in self.symbols]  # `/` finds [sim] symbols too
            sim = self.sim = SimServer(listed, seed=s.sim.seed, tick_ms=s.sim.tick_ms,
                                       balance=Decimal(str(s.sim.starting_balance)), clock=self.clock.now_ms,
                                       auth_clock=wall_ms, run_loop=self.sim_running)
            from cashup_tui.adapters.sim.contracts import synthetic

            if made_up := synthetic(listed):
                log.warning("demo: %s simulated with made-up specs (no Gate spec on file for it)", ", ".join(made_up))
            self._on_stop("simulator", sim.stop)
            await sim.start(s.sim.host, 0)
            rest_url, ws_url = sim.rest_url, sim.ws_url
            key, secret, user_id = sim.api_key, sim.api_secret, str(sim.state.user_id)
        elif self.mode is Mode.PAPER:
            rest_url, ws_url, key, secret, user_id = s.gate.rest_url, s.gate.ws_url, "", "", ""
        else:
            rest_url, ws_url = _endpoints(s, self.mode)
            keys = _resolve_keys(s)
            if keys is None:
                raise AuthenticationError(
                    f"{self.mode} mode needs API keys",
                    hint="run `cashup keys set gateio`, or set CASHUP_GATE_API_KEY and CASHUP_GATE_API_SECRET",
                )
            key, secret, user_id = keys[0], keys[1], ""
            if self.mode is Mode.LIVE and not self.confirm_live:
                raise ConfigError("live trading needs an explicit confirmation",
                                  hint="type LIVE when asked, or pass --confirm-live (recorded in the audit log)")
            if self.mode is Mode.LIVE:  # the live switch is an admin action
                passphrase, self.admin_passphrase = self.admin_passphrase, None
                self.authorize(Action.LIVE_SWITCH, "live.switch", passphrase=passphrase,
                               confirmed="flag or typed LIVE")
        now_ms, monotonic_ms = self.clock.now_ms, self.clock.monotonic_ms  # the websockets' time
        rest = self.rest = GateRest(rest_url, api_key=key, api_secret=secret, settle=s.gate.settle,
                                    timeout_s=s.gate.request_timeout_s)
        self._on_stop("REST client", rest.close)
        all_instruments = await rest.load_instruments()
        unknown = [x for x in self.symbols if x not in all_instruments]
        if unknown and not self.explicit_symbols:  # the default watchlist: keep what this venue lists
            log.warning("watchlist contract(s) not listed by the venue, skipped: %s", ", ".join(unknown))
            self.symbols = [x for x in self.symbols if x in all_instruments]
            unknown = [] if self.symbols else unknown
        if unknown:
            raise ConfigError(f"unknown contract(s): {', '.join(unknown)}",
                              hint=f"known here: {', '.join(sorted(all_instruments)[:20])}")
        # every contract the venue lists: journalled positions/orders on other symbols stay valued and manageable
        self.instruments = dict(all_instruments)
        if self.mode in GATE_MODES:
            bals = await rest.balances()  # start-up key check: a signed read must pass
            self.journal.audit(self.clock.now_ms(), "user", f"{self.mode}.start",
                               f"key check ok, {len(bals)} balance(s); confirmed={self.confirm_live}")
        if trade or self.mode is Mode.PAPER:
            from cashup_tui.adapters.gateio.market_data import GateMarketData, rest_snapshot_fetcher

            market = self.market = GateMarketData(ws_url, rest_snapshot_fetcher(rest_url, settle=s.gate.settle),
                                                  sink=self.bus, depth=s.gate.book_depth, freq=s.gate.book_freq,
                                                  now_ms=now_ms, monotonic_ms=monotonic_ms)
            await market.subscribe(self.symbols, ["tickers", "book"])
            self._on_stop("market stream", market.stop)
            await market.start()
        execution: Execution
        if self.mode is Mode.PAPER:
            from cashup_tui.adapters.sim.execution import VenueExecution
            from cashup_tui.venue import Venue

            self.paper_venue = Venue(self.instruments, balance=Decimal(str(s.sim.starting_balance)),
                                     clock=self.clock.now_ms)
            paper = VenueExecution(self.paper_venue, self.instruments, ignore_text_prefix=SEED_PREFIX)
            execution, self._pump = paper, paper.pump
        else:
            from cashup_tui.adapters.gateio.execution import GateExecution

            prefix = f"demo{self.clock.now_ms():x}-" if self.mode is Mode.DEMO else ""
            execution = GateExecution(rest, self.instruments, ws_url=ws_url, api_key=key,
                                      api_secret=secret, user_id=user_id, sink=self.bus, trade_id_prefix=prefix,
                                      orders_over_ws=s.gate.orders_over_ws,
                                      ws_order_timeout_s=s.gate.request_timeout_s, now_ms=now_ms,
                                      monotonic_ms=monotonic_ms)
        self.execution = execution
        self._on_stop("venue connection", execution.stop)
        return execution

    def _build_engine(self, execution: Execution) -> OrderManager:
        s = self.settings
        cash = Decimal(0)
        for b in self.journal.load_balances():
            if b.currency.upper() == "USDT":
                cash = b.total
        self.portfolio = Portfolio.with_cash(self.instruments, cash, default_leverage=Decimal(10))
        self.risk = RiskEngine(RiskLimits.from_settings(s.risk), self.instruments, self.portfolio, self.cache,
                               self.clock, self.journal, self.bus)
        self.risk.load()
        self.risk.price_guard = PriceGuard(Decimal(str(s.risk.price_sources_band_pct)), self.clock, self.journal,
                                           self.bus)
        om = self.om = OrderManager(execution, self.journal, self.risk, self.portfolio, self.cache, self.clock,
                                    self.bus, id_prefix=self.mode[0], emulate_triggers=self.mode in LOCAL_MODES,
                                    submit_timeout_s=s.gate.request_timeout_s, session=self.id_session)
        self.runner = StrategyRunner(om, self.instruments, self.clock, self.journal, self.bus)
        self.runner.fresh_venue = self.mode is Mode.DEMO  # a demo simulator starts flat every run
        if self.mode is Mode.PAPER:
            self._seed_paper_venue()
        self.bus.subscribe(FeedDisconnected, self._on_feed_event)
        self.bus.subscribe(FeedConnected, self._on_feed_event)
        return om

    def _build_supervisor(self, execution: Execution, om: OrderManager) -> Supervisor:
        assert self.risk is not None and self.portfolio is not None and self.runner is not None
        venue = self.paper_venue
        return Supervisor(symbols=self.symbols, instruments=self.instruments, market=self.market,
                          execution=execution, cache=self.cache, clock=self.clock, journal=self.journal, om=om,
                          risk=self.risk, portfolio=self.portfolio, runner=self.runner, alerts=self.alerts,
                          alerts_fired=self.alerts_fired, notifier=self.notifier, local_venue=venue,
                          pump=self._pump,
                          dead_man_s=self.dead_man_s if self.mode in GATE_MODES else 0,
                          loop_hz=self.loop_hz)

    def _seed_paper_venue(self) -> None:
        """Paper positions survive a restart: the fresh local venue is given the journalled leverage and
        margin mode per contract, positions (at their entry prices) and cash before reconciliation compares them."""
        v = self.paper_venue
        assert v is not None
        saved = {p.symbol: p for p in self.journal.load_positions() if not p.is_flat and p.symbol in self.instruments}
        cash = next((b.total for b in self.journal.load_balances() if b.currency.upper() == "USDT"), None)
        chosen = {s: c for s, c in dict(self.journal.kv_get(LEVERAGE_KEY) or {}).items() if s in self.instruments}
        if not saved and cash is None and not chosen:
            return
        now = self.clock.now_ms()
        for sym, c in chosen.items():  # leverage and margin mode as the user last set them (flat or not)
            with contextlib.suppress(CashupError, KeyError, ArithmeticError):
                lev = Decimal(str(c["leverage"]))
                v.set_leverage(sym, 0, cross_leverage_limit=lev) if c.get("cross") else v.set_leverage(sym, lev)
        for i, (sym, p) in enumerate(sorted(saved.items())):
            px, qty = p.entry_price, abs(p.size)
            v.update_book(sym, [(px, qty)], [(px, qty)], now)
            if p.leverage > 0 and sym not in chosen:
                with contextlib.suppress(CashupError):
                    v.set_leverage(sym, p.leverage)
            v.place(sym, p.size, 0, tif="ioc", text=f"{SEED_PREFIX}-{i}", ts_ms=now)
        if cash is not None:
            diff = cash - v.account().total
            if diff > 0:
                v.deposit(diff, ts_ms=now)
            elif diff < 0:
                log.warning("paper: journalled cash %s below the venue's %s after seeding", cash, v.account().total)
        v.drain_events()

    async def _start_notifier(self) -> None:
        """Configured channels get fills, rejections, risk trips, strategy errors... off the critical path
        (a bounded queue with its own tasks; a hanging endpoint never blocks an order)."""
        if not self.settings.notify.urls:
            return
        from cashup_tui.adapters.notify import NotificationService

        history = None
        if self.store is not None:
            from cashup_tui.store.records import Notification, record_notification

            store = self.store

            def history(rec: Any) -> None:
                record_notification(store, Notification(ts_ms=rec.ts_ms, severity=rec.severity, title=rec.title,
                                                        body=rec.event, channel=rec.channel, status=rec.outcome,
                                                        error=rec.error))

        from cashup_tui.settings import notify_templates_dir

        notifier = self.notifier = NotificationService.from_settings(
            self.settings.notify, history=history, templates_dir=str(notify_templates_dir(self.settings)))

        async def stop_notifier() -> None:
            self.notifier = None
            await notifier.stop(drain_s=1.0)

        self._on_stop("notifier", stop_notifier)
        await notifier.start()
        notifier.attach(self.bus)

    def _build_alerts(self) -> None:
        """Parse the user's alert rules now, so a bad rule is a clear start-up error (exit 2)."""
        from cashup_tui.domain.alerts import AlertEngine, parse_rule

        rules = []
        for i, text in enumerate(self.settings.notify.alerts, 1):
            try:
                rules.append(parse_rule(text, f"a{i}"))
            except CashupError as exc:
                raise ConfigError(f"notify.alerts[{i}] {text!r}: {exc}") from None
        self.alerts = AlertEngine(rules)

    def _on_feed_event(self, event: Any) -> None:
        log.info("feed event: %s", event)

    # -- strategies ---------------------------------------------------------------------------------
    async def warm_up(self, slot_name: str, bars: int = 300) -> int:
        """Give a vectorised strategy recent closed bars (no orders) so it can signal at once."""
        assert self.runner is not None and self.rest is not None
        slot = self.runner.slots[slot_name]
        if slot.portfolio:  # every symbol's recent bars, enough for one decision at least
            from cashup_tui.engine.portfolio_slot import warm_up

            try:
                return await warm_up(self.runner, slot, self.rest.recent_bars, bars,  # type: ignore[arg-type]
                                     self.clock.now_ms())
            except CashupError as exc:
                log.warning("warm-up for %s failed: %s", slot_name, exc)
                return 0
        if not self.runner.needs_history(slot):
            return 0
        try:
            hist = await self.rest.recent_bars(slot.symbol, slot.timeframe, bars, self.clock.now_ms())
        except CashupError as exc:
            log.warning("warm-up for %s failed: %s", slot_name, exc)
            return 0
        return self.runner.warm_up(slot_name, hist[-max(bars, slot.strategy.warmup()):])

    # -- status ------------------------------------------------------------------------------------
    def stream_health(self) -> list[StreamHealth]:
        """'mkt' for the market stream, 'priv' for the private stream when there is one."""
        now = self.clock.now_ms()
        out: list[StreamHealth] = []
        mkt = self.market.health(now) if self.market is not None else None
        if mkt is not None:
            if mkt.age_ms is None:  # no frame counted yet: the freshest book or ticker in the cache
                last = max((self.cache.last_update_ms(x) or 0 for x in self.symbols), default=0)
                mkt = dataclasses.replace(mkt, age_ms=(now - last) if last else None)
            out.append(mkt)
        priv = self.execution.health(now) if self.execution is not None else None
        if priv is not None:
            out.append(priv)
        return out

    # -- shutdown ----------------------------------------------------------------------------------
    async def stop(self, *, disarm_dead_man: bool = True) -> None:
        """Close what start-up opened, newest first. `disarm_dead_man=False` for a stop nobody chose (SIGHUP,
        SIGTERM): Gate's countdown stays armed."""
        resources, self._resources = self._resources, contextlib.AsyncExitStack()
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(self._close_store)  # last
            stack.callback(self._record_stop)
            stack.push_async_exit(resources)  # the order manager, venue, streams, REST, notifier, simulator
            if self.supervisor is not None:
                await self.supervisor.stop(disarm_dead_man=disarm_dead_man)

    def _record_stop(self) -> None:
        if self.started:
            if self.portfolio is not None:
                try:
                    self.journal.save_positions(list(self.portfolio.positions.values()))
                except Exception as exc:
                    log.warning("stop: positions not saved: %s: %s", type(exc).__name__, exc)
            self.journal.audit(self.clock.now_ms(), "engine", "node.stop", f"mode={self.mode}")
        self.started = False

    def _close_store(self) -> None:
        store, self.store = self.store, None
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()

    async def __aenter__(self) -> Node:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _endpoints(settings: Settings, mode: Mode) -> tuple[str, str]:
    """(rest, ws) for testnet/live. An override of the live endpoints (CASHUP_GATE_REST_URL/WS_URL, e.g.
    pointing at `cashup sim serve`) applies to testnet too unless testnet URLs are set explicitly."""
    from cashup_tui.settings import GateSettings

    g, d = settings.gate, GateSettings()
    if mode is Mode.LIVE:
        return g.rest_url, g.ws_url
    rest = g.testnet_rest_url if (g.testnet_rest_url != d.testnet_rest_url or g.rest_url == d.rest_url) else g.rest_url
    ws = g.testnet_ws_url if (g.testnet_ws_url != d.testnet_ws_url or g.ws_url == d.ws_url) else g.ws_url
    return rest, ws


def _resolve_keys(settings: Settings) -> tuple[str, str] | None:
    g = settings.gate
    if g.api_key and g.api_secret:
        return g.api_key.reveal(), g.api_secret.reveal()
    try:
        from cashup_tui.adapters.vault import Vault, resolve_keys
        from cashup_tui.paths import vault_path
    except ImportError:  # pragma: no cover - vault module missing
        return None
    keys = resolve_keys("gateio", vault=Vault(vault_path()))
    if keys is None:
        return None
    return str.__str__(keys.api_key), str.__str__(keys.api_secret)


def event_backtest_venue() -> Callable[..., Any]:
    """The event backtest's Execution factory: the simulated venue, in process (`VenueExecution.with_venue`).
    Picked here, at the composition root, like every other adapter the engine is given."""
    from cashup_tui.adapters.sim.execution import VenueExecution

    return VenueExecution.with_venue


def journal_audit(journal: Journal, now_ms: Callable[[], int], actor: str = "user") -> AuditSink:
    """The audit sink of a session: one audit_log row per user action, actor `user:trader`, `cli:admin`..."""
    def sink(action: str, *, role: str, outcome: str, detail: Any) -> None:
        text = " ".join(f"{k}={v}" for k, v in dict(detail).items())
        journal.audit(now_ms(), f"{actor}:{role}", action, text if outcome == "allowed" else f"DENIED {text}".rstrip())

    return sink


def make_session(settings: Settings, mode: Mode, audit: AuditSink) -> Session:
    """The `ui.profile` session. The admin passphrase hash is read when an admin action asks for it; with
    none set, admin actions are open in demo/paper (no money at stake) and refused in testnet/live."""
    from cashup_tui.adapters.vault import load_admin_hash
    from cashup_tui.paths import admin_hash_path

    return Session(settings.ui.profile, audit=audit, admin_hash=lambda: load_admin_hash(admin_hash_path()),
                   admin_open=mode in LOCAL_MODES, money_mode=mode.value if mode in GATE_MODES else "")


def build_node(settings: Settings, mode: str | Mode, *, db_url: str | None = None, symbols: list[str] | None = None,
               confirm_live: bool = False, journal: Journal | None = None,
               configure: Callable[[Node], None] | None = None, actor: str = "user",
               admin_passphrase: str | None = None, clock: LiveClock | TestClock | None = None,
               sim_running: bool = True, id_session: str | None = None) -> Node:
    """Build (not start) the node for `mode`. `db_url` "" or None with no journal = in-memory journal.
    `clock` (default: the wall clock), `sim_running=False` (the demo market moves only when stepped) and
    `id_session` (the client-id namespace) make a demo reproducible to the pixel: a fixed-time screen."""
    name = str(mode).lower()
    if name not in TRADING_MODES:
        raise ConfigError(f"unknown mode {name!r}", hint=f"use one of: {', '.join(TRADING_MODES)}")
    mode = Mode(name)
    syms = list(symbols or settings.ui.watchlist or settings.sim.symbols)
    store = None
    if journal is None:
        if db_url:
            from cashup_tui.store import open_store
            from cashup_tui.store.journal import StoreJournal

            store = open_store(db_url, synchronous=settings.store.synchronous,
                               busy_timeout_ms=settings.store.busy_timeout_ms)
            journal = StoreJournal(store, mode, settings.gate.account)
        else:
            journal = MemoryJournal()
    node = Node(mode=mode, settings=settings, journal=journal, symbols=syms, store=store, confirm_live=confirm_live,
                explicit_symbols=bool(symbols), admin_passphrase=admin_passphrase, clock=clock or LiveClock(),
                sim_running=sim_running, id_session=id_session)
    node.session = make_session(settings, mode, journal_audit(journal, node.clock.now_ms, actor))
    if configure is not None:
        configure(node)
    return node
