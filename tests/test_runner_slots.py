"""Issue 10: several strategy slots at once. A failed slot stops cleanly (its resting orders are cancelled,
the other slots keep theirs); the kept slots are listed in the journal for a restart; the start dialog's
size in contracts becomes the notional the slot trades."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.market import Bar
from cashup_tui.engine.runner import StrategyRunner
from cashup_tui.engine.strategy import load_strategy
from cashup_tui.service.strategies import StartRequest, check_start, notional_of, param_fields
from tests.engine_fakes import INSTRUMENTS, make_engine

D = Decimal

RESTING = '''
from cashup_tui.engine.strategy import Param, Strategy


class Resting(Strategy):
    """Rests one buy 5% under the close on its first bar; raises on the second when `fail` is set."""

    vectorised = False
    fail = Param(False)

    def on_start(self, ctx):
        self.n = 0

    def on_bar(self, ctx, bar):
        self.n += 1
        if self.n == 1:
            ctx.buy(0.01, price=bar.close * 0.95)
        elif self.fail:
            raise RuntimeError("broken on purpose")
'''


def bar(i: int, close: float = 50000.0) -> Bar:
    return Bar("BTC_USDT", "1m", 1_700_000_000_000 + i * 60_000, close, close, close, close, 1.0)


async def test_a_failed_slot_cancels_its_resting_orders_and_the_others_keep_theirs(tmp_path: Path) -> None:
    (tmp_path / "resting.py").write_text(RESTING)
    cls = load_strategy(str(tmp_path / "resting.py"))
    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    runner.add(cls(fail=True), "BTC_USDT", "1m", name="bad", order_notional=D(1000), keep=True)
    runner.add(cls(), "BTC_USDT", "1m", name="good", order_notional=D(1000), keep=True)
    runner.on_bar(bar(0))
    await runner.idle()
    mine = {s: [o for o in e.cache.open_orders() if o.strategy == s] for s in ("bad", "good")}
    assert len(mine["bad"]) == 1 and len(mine["good"]) == 1
    runner.on_bar(bar(1))
    await runner.idle()
    assert runner.slots["bad"].state.value == "failed" and "broken on purpose" in runner.slots["bad"].error
    assert [o.strategy for o in e.cache.open_orders()] == ["good"]  # the failed one's buy was cancelled
    assert e.cache.order(mine["bad"][0].client_id).status.value == "cancelled"
    assert runner.slots["good"].state.value == "running"
    # both are kept for a restart, with what the dialog gave them
    saved = {r["name"]: r for r in StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus).saved()}
    assert set(saved) == {"bad", "good"}
    assert saved["bad"]["state"] == "failed" and saved["good"]["params"] == {"fail": False}
    assert saved["good"]["order_notional"] == "1000" and saved["good"]["path"] == str(tmp_path / "resting.py")


def test_a_slot_not_kept_is_not_offered_after_a_restart(tmp_path: Path) -> None:
    (tmp_path / "resting.py").write_text(RESTING)
    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    runner.add(load_strategy(str(tmp_path / "resting.py"))(), "BTC_USDT", "1m", name="cli")  # `cashup trade`
    assert StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus).saved() == []


def test_the_dialog_checks_fields_with_the_strategys_own_parsing_and_sizes_contracts_at_the_mark() -> None:
    fields = {f.name: f for f in param_fields("grid")}
    assert fields["levels"].default == 5 and fields["levels"].allowed == "int in [1, 50], default 5"
    syms = ["BTC_USDT", "ETH_USDT"]
    req = check_start("grid", " btc_usdt ", syms, "5m", "10", "contracts", {"levels": "3", "spacing_pct": ""})
    assert req == StartRequest("grid", "BTC_USDT", "5m", D(10), "contracts",
                               {"levels": 3, "spacing_pct": 1.0, "order_pct": 10.0})
    node = SimpleNamespace(instruments=INSTRUMENTS, cache=SimpleNamespace(mark=lambda s: D(50000)))
    assert notional_of(node, req) == D(10) * INSTRUMENTS["BTC_USDT"].quanto_multiplier * D(50000)
    assert notional_of(node, StartRequest("grid", "BTC_USDT", size=D(750))) == D(750)
    for args, message in (
        (("grid", "DOGE_USDT", syms, "1m", "10", "usdt", {}), "DOGE_USDT is not a contract this venue lists"),
        (("grid", "BTC_USDT", syms, "7x", "10", "usdt", {}), "timeframe: '7x' is not a timeframe"),
        (("grid", "BTC_USDT", syms, "1m", "-5", "usdt", {}), "size: -5 must be a positive number of USDT"),
        (("grid", "BTC_USDT", syms, "1m", "nan", "usdt", {}), "must be a positive number"),
        (("grid", "BTC_USDT", syms, "1m", "10", "usdt", {"levels": "2.5"}), "'levels' must be int, got '2.5'"),
        (("grid", "BTC_USDT", syms, "1m", "10", "usdt", {"levels": "40"}), "more than 100%"),  # validate()
    ):
        with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace("%", "%")):
            check_start(*args)  # type: ignore[arg-type]
