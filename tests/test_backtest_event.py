"""Two engines, one answer: every vectorisable strategy gives the same trades and equity on the
event engine (hooks + the shared simulated venue, Decimal money) as on the fast engine, on real candles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cashup_tui.adapters.sim.execution import VenueExecution
from cashup_tui.domain.errors import StrategyError, ValidationError
from cashup_tui.engine.backtest.data import load_csv, load_funding
from cashup_tui.engine.backtest.event import EventEngine, backtest_limits, run_event
from cashup_tui.engine.backtest.fast import run_fast
from cashup_tui.engine.backtest.model import RunConfig, Sizer, known_instrument
from cashup_tui.engine.strategy import Bars, Strategy, load_strategy
from tests.conftest import MARKET_DIR, need_shared

SIM = VenueExecution.with_venue
BTC_1H = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"
BTC_FUND = "gateio_usdt_perp_BTC_USDT_funding_2025-02-25_2026-02-25.csv"


@pytest.fixture(scope="module")
def bars():
    return load_csv(need_shared(MARKET_DIR / BTC_1H))[:1500]


def same(a, b, rtol: float = 1e-9) -> None:
    ta, tb = a.trades, b.trades
    assert ta.size == tb.size > 0
    for col in ("entry_idx", "exit_idx", "side", "reason"):
        assert ta[col].tolist() == tb[col].tolist(), col
    for col in ("entry_price", "exit_price", "qty", "pnl", "fees"):
        np.testing.assert_allclose(ta[col], tb[col], rtol=rtol, atol=1e-6, err_msg=col)
    np.testing.assert_allclose(a.equity, b.equity, rtol=rtol)
    assert a.position.tolist() == b.position.tolist()


CASES = [
    ("sma_cross", {}, {}),
    ("ema_cross", {"fast": 8, "slow": 40}, {"allow_short": True}),
    ("rsi_reversion", {}, {"allow_short": True, "slippage_bps": 2.0}),
    ("bollinger_breakout", {"stop_pct": 1.5, "take_pct": 4.0}, {"allow_short": True}),
    ("donchian_breakout", {"period": 30}, {"sizer": Sizer("percent", 50)}),
    ("macd_trend", {"trend": 200}, {"sizer": Sizer("notional", 3000)}),
]


@pytest.mark.parametrize("name,params,cfg", CASES, ids=[c[0] for c in CASES])
def test_fast_and_event_engines_agree(bars, name, params, cfg) -> None:
    strat_cls = load_strategy(name)
    config = RunConfig(**cfg)
    fast = run_fast(strat_cls(**params), bars, config)
    event = run_event(strat_cls(**params), bars, config, SIM)
    same(fast, event)


def test_agree_with_funding_and_contracts(bars) -> None:
    fund = load_funding(need_shared(MARKET_DIR / BTC_FUND))
    config = RunConfig(allow_short=True, funding=fund, instrument=known_instrument("BTC_USDT"))
    s = load_strategy("sma_cross")
    fast = run_fast(s(fast=20, slow=60), bars, config)
    event = run_event(s(fast=20, slow=60), bars, config, SIM)
    same(fast, event)
    assert float(np.abs(fast.trades["funding"]).sum()) > 0


@pytest.mark.parametrize("name,params,cfg", [CASES[0], CASES[1]], ids=["sma_cross", "ema_cross_short"])
def test_skipping_quiet_bars_changes_nothing(bars, monkeypatch, name, params, cfg) -> None:
    """The loop jumps over bars where nothing can happen; visiting every bar gives the identical run."""
    fund = load_funding(need_shared(MARKET_DIR / BTC_FUND))
    config = RunConfig(**cfg, funding=fund)
    s = load_strategy(name)
    skipped = run_event(s(**params), bars, config, SIM)
    monkeypatch.setattr(EventEngine, "skip_quiet", False)
    visited = run_event(s(**params), bars, config, SIM)
    assert skipped.trades.tolist() == visited.trades.tolist() and skipped.trades.size > 0
    assert skipped.equity.tolist() == visited.equity.tolist()
    assert skipped.position.tolist() == visited.position.tolist()


def test_event_only_grid_runs_on_the_venue(bars) -> None:
    res = run_event(load_strategy("grid")(), bars, RunConfig(), SIM)
    assert res.trades.size >= 2 and res.rejected == 0  # the grid is anchored at the first close; BTC fell away
    assert set(res.trades["reason"].tolist()) <= {"order", "end"}
    assert (res.trades["side"] == 1).all()  # it only buys dips and sells them back
    closed = res.trades[res.trades["reason"] == "order"]
    assert (closed["exit_price"] > closed["entry_price"]).all()


# -- the engine path: strategy -> order manager -> risk gate -> VenueExecution -> Venue --------------------
HOOK_CASES = [c for c in CASES if c[0] in ("sma_cross", "ema_cross", "bollinger_breakout")]


@pytest.mark.parametrize("name,params,cfg", HOOK_CASES, ids=[c[0] for c in HOOK_CASES])
def test_hooks_path_agrees_too(bars, name, params, cfg) -> None:
    """The strategy's own on_bar (what live trading calls), not its precomputed signals, gives the same run."""
    strat_cls = load_strategy(name)
    config = RunConfig(**cfg)
    same(run_fast(strat_cls(**params), bars, config), run_event(strat_cls(**params), bars, config, SIM, hooks=True))


def test_every_order_went_through_the_order_manager_and_the_venue(bars) -> None:
    eng = EventEngine(load_strategy("sma_cross")(), bars, RunConfig(allow_short=True), SIM, False,
                      backtest_limits(RunConfig(allow_short=True)))
    res = eng.run()
    j = eng.journal
    orders = j.load_orders()
    assert res.trades.size > 5
    assert len(orders) == len(j.fills) >= 2 * res.trades.size - 1  # flips: a close and an open per signal
    assert all(o.status.value == "filled" for o in orders)
    first_events = {}
    for cid, ev in j.journal:
        first_events.setdefault(cid, ev.kind.value)
    assert set(first_events.values()) == {"submitted"}  # written ahead before the venue saw it
    assert len(eng.venue.my_trades(limit=100_000)) == len(j.fills)  # the venue filled exactly those
    assert eng.pf.cash == eng.venue.total  # the engine's portfolio and the venue's wallet agree
    pos = eng.pf.positions["BTC_USDT"]
    assert pos.size == eng.venue.position("BTC_USDT").size
    assert eng.om.ready and not eng.risk.reconciling and eng.risk.denials == 0
    slot = eng.runner.slots["sma_cross-BTC_USDT"]  # the strategy ran in a runner slot, as live
    assert slot.state.value == "stopped" and slot.position == pos.size and slot.error == ""
    assert {o.strategy for o in orders} == {slot.name}


def test_risk_denials_surface_in_the_result(bars) -> None:
    from decimal import Decimal

    from cashup_tui.engine.risk import RiskLimits

    tight = RiskLimits(max_order_notional=Decimal(5000), max_leverage=Decimal(1), daily_loss_limit=Decimal(0),
                       max_drawdown_pct=Decimal(0))
    res = run_event(load_strategy("sma_cross")(), bars, RunConfig(), SIM, limits=tight)  # all-in is ~10k
    assert res.trades.size == 0 and res.rejected > 5
    assert any("max_order_notional" in n for n in res.notes)
    assert res.notes[-1].startswith(f"{res.rejected} order(s) denied by the risk gate")
    assert (res.equity == 10_000.0).all()


def test_liquidation_by_the_venue_at_high_leverage() -> None:
    """A 10x long into a 20% crash: the venue liquidates at its maintenance-margin price inside the bar."""
    n = 40
    t = 1_700_000_000_000 + np.arange(n) * 3_600_000
    c = np.full(n, 100.0)
    c[20:] = 80.0
    o = np.r_[100.0, c[:-1]]
    bars_ = Bars.from_arrays(t, o, np.maximum(o, c) + 0.1, np.minimum(o, c) - 0.1, c, symbol="BTC_USDT",
                             timeframe="1h")
    res = run_event(Hold(), bars_, RunConfig(leverage=10), SIM)
    tr = res.trades[0]
    assert tr["reason"] == "liquid" and tr["exit_idx"] == 20
    assert 89 < tr["exit_price"] < 91  # ~ entry * (1 - 1/10) / (1 - maintenance rate)
    assert res.position[20] == 0 and res.equity[20] < 0.05 * 10_000  # the margin is gone
    assert res.trades[1]["entry_idx"] == 21 and res.trades[1]["qty"] < 0.1 * tr["qty"]  # what is left, re-entered at 10x


def test_strategy_error_names_the_file_and_line(tmp_path, bars) -> None:
    f = tmp_path / "boom.py"
    f.write_text(BOOM)
    with pytest.raises(StrategyError) as e:
        run_event(load_strategy(str(f))(), bars, RunConfig(), SIM)
    assert f"{f}:11" in str(e.value)


def test_a_plain_venue_class_is_refused_with_a_hint(bars) -> None:
    from cashup_tui.venue import Venue

    with pytest.raises(ValidationError, match="in-process simulated venue") as e:
        run_event(load_strategy("sma_cross")(), bars, RunConfig(), Venue)
    assert "VenueExecution.with_venue" in (e.value.hint or "")


def test_cli_event_engine_json(tmp_path, capsysbinary) -> None:
    from cashup_tui.cli.main import run

    data = need_shared(MARKET_DIR / BTC_1H)
    out = {}
    for engine in ("fast", "event"):
        with pytest.raises(SystemExit) as e:
            run(["--db", str(tmp_path / "b.db"), "backtest", "run", "sma_cross", "--data", str(data), "--to",
                 "2025-04-15", "--engine", engine, "--allow-short", "--json"])
        assert (e.value.code or 0) == 0
        out[engine] = capsysbinary.readouterr().out.decode()
    fast, event = (json.loads(out[k]) for k in ("fast", "event"))
    assert event["engine"] == "event" and event["rejected_orders"] == 0
    assert event["trade_count"] == fast["trade_count"] > 3
    assert event["final_equity"] == pytest.approx(fast["final_equity"], rel=1e-9)


class Hold(Strategy):
    """Long from the first close on."""

    def signals(self, b: Bars) -> np.ndarray:
        return np.ones(len(b))


BOOM = '''from cashup_tui.engine.strategy import Strategy


class Boom(Strategy):
    """Raises on the 50th bar."""
    vectorised = False

    def on_bar(self, ctx, bar):
        self.n = getattr(self, "n", 0) + 1
        if self.n == 50:
            raise ZeroDivisionError("boom")
'''


def test_grid_limit_orders_pass_the_risk_gate_and_denials_are_reported(bars) -> None:
    from dataclasses import replace

    cfg = RunConfig()
    eng = EventEngine(load_strategy("grid")(), bars, cfg, SIM, True, backtest_limits(cfg))
    res = eng.run()
    limits = {o.order_type.value for o in eng.journal.load_orders()}
    assert limits == {"limit"} and res.rejected == 0 and len(eng.journal.fills) >= 2 * res.trades.size - 1
    few = replace(backtest_limits(cfg), max_open_orders=3)  # the grid lays 5 buy levels on its first bar
    res2 = run_event(load_strategy("grid")(), bars, cfg, SIM, limits=few)
    assert res2.rejected >= 2 and any("max_open_orders" in n for n in res2.notes)


def test_every_vectorisable_strategy_is_covered() -> None:
    from cashup_tui.engine.strategy import discover

    shipped = {name for name, path in discover().items()
               if path.parent.name == "strategies" and load_strategy(name).vectorised}
    assert shipped <= {c[0] for c in CASES}, "add the new strategy to CASES"


MORE = ["gateio_usdt_perp_ETH_USDT_1h_2025-02-25_2026-02-25.csv", "gateio_usdt_perp_BTC_USDT_5m_2026-01-26_2026-02-25.csv"]


@pytest.mark.parametrize("data", MORE, ids=["eth-1h-year", "btc-5m-month"])
def test_all_strategies_agree_on_more_real_candles(data) -> None:
    b = load_csv(need_shared(MARKET_DIR / data))
    for name, params, cfg in CASES:
        strat_cls = load_strategy(name)
        config = RunConfig(**cfg)
        same(run_fast(strat_cls(**params), b, config), run_event(strat_cls(**params), b, config, SIM))


def test_flips_in_whole_contracts_at_3x_are_not_refused() -> None:
    """Close and reopen with the same whole-contract size at one open: two intents, both pass the gate
    (over this year it happens twice)."""
    bars = load_csv(need_shared(MARKET_DIR / BTC_1H))
    fund = load_funding(need_shared(MARKET_DIR / BTC_FUND))
    config = RunConfig(allow_short=True, leverage=3, funding=fund, instrument=known_instrument("BTC_USDT"))
    res = run_event(load_strategy("sma_cross")(), bars, config, SIM)
    fast = run_fast(load_strategy("sma_cross")(), bars, config)
    assert res.rejected == 0, res.notes
    assert res.trades["entry_idx"].tolist() == fast.trades["entry_idx"].tolist()


FAR = '''from cashup_tui.engine.strategy import Strategy


class Far(Strategy):
    """Bids at a tenth of the price once: outside the risk gate's price band."""
    vectorised = False

    def on_bar(self, ctx, bar):
        if not getattr(self, "done", False):
            self.done = True
            ctx.buy(0.01, price=bar.close / 10)
'''


def test_cli_shows_refused_orders(tmp_path, capsys) -> None:
    from cashup_tui.cli.main import run

    f = tmp_path / "far.py"
    f.write_text(FAR)
    with pytest.raises(SystemExit) as e:
        run(["backtest", "run", str(f), "--data", str(need_shared(MARKET_DIR / BTC_1H)), "--to", "2025-03-10",
             "--engine", "event", "--no-store"])
    assert (e.value.code or 0) == 0
    out = capsys.readouterr().out
    assert "1 order(s) refused" in out and "price_band" in out


def test_a_1x_short_is_liquidated_when_the_price_doubles() -> None:
    n = 30
    t = 1_700_000_000_000 + np.arange(n) * 3_600_000
    c = np.full(n, 100.0)
    c[15:] = 210.0
    o = np.r_[100.0, c[:-1]]
    bars_ = Bars.from_arrays(t, o, np.maximum(o, c) + 0.1, np.minimum(o, c) - 0.1, c, symbol="BTC_USDT",
                             timeframe="1h")
    res = run_event(Short(), bars_, RunConfig(allow_short=True), SIM)
    first = res.trades[0]
    assert first["reason"] == "liquid" and first["exit_idx"] == 15 and first["side"] == -1
    assert 195 < first["exit_price"] < 200  # ~ 2 x entry / (1 + maintenance rate)


class Short(Strategy):
    """Short from the first close on."""

    def signals(self, b: Bars) -> np.ndarray:
        return -np.ones(len(b))
