"""A dropped session in tmux (the user's real setup): the tmux server is killed under a workstation with
an open order, which closes its pty for real. The process exits within 5 s with the node stopped and the
order journalled. In testnet mode against the simulator, Gate's countdown_cancel_all dead-man switch
stays armed after such a hangup (the venue cancels the order when the countdown runs out), while a
deliberate quit (q) disarms it and the order stays.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.adapters.sim.server import SimServer
from tests.audit_read import audit_actions
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET
from tests.test_tmux_cli import (
    CASHUP,
    PRICE_ROW,
    REPO,
    _cashup_pid,
    _env,
    _order_rows,
    _place_order_with_keys,
)
from tests.tmux_driver import Tmux

pytestmark = [pytest.mark.tmux, pytest.mark.timeout(150)]
EXIT_WITHIN_S = 5.0


@pytest.fixture
def term() -> Iterator[Tmux]:
    t = Tmux(100, 30)
    yield t
    t.kill()


def _gone(pid: int) -> bool:
    """Exited (a zombie nobody reaps counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def _wait_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return _gone(pid)


def _start(term: Tmux, env: dict[str, str], args: str, badge: str) -> None:
    cmd = (str(CASHUP) if CASHUP.exists() else f"{sys.executable} -m cashup_tui") + args
    term.start(cmd, env, REPO)
    term.wait_for(lambda s: f" {badge} " in s and PRICE_ROW.search(s) is not None, timeout=60,
                  what=f"the {badge} workstation with a BTC_USDT price")


def test_killing_the_tmux_session_stops_the_node_within_5s(term: Tmux, tmp_path: Path) -> None:
    _start(term, _env(tmp_path), "", "DEMO")
    _place_order_with_keys(term)
    pid = _cashup_pid(term)
    term.kill()  # the pty is closed under the process: SIGHUP + SIGCONT from the kernel
    assert _wait_gone(pid, EXIT_WITHIN_S), f"cashup {pid} still running {EXIT_WITHIN_S}s after its terminal closed"
    db = tmp_path / "data" / "cashup.sqlite"
    rows = _order_rows(db)
    assert len(rows) == 1 and rows[0][1:3] == ("BTC_USDT", "buy")
    assert audit_actions(db)[-1] == "node.stop"


class ThreadedSim:
    """The simulator on its own event loop in a thread, so the test can look at the venue afterwards."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.sim = SimServer(["BTC_USDT"], seed=7, tick_ms=100, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self.sim.start())

    def call(self, coro, timeout: float = 30.0):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def on_loop(self, fn):  # type: ignore[no-untyped-def]
        async def run():  # type: ignore[no-untyped-def]
            return fn()

        return self.call(run())

    def close(self) -> None:
        self.call(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.mark.parametrize("how", ["hangup", "quit"])
def test_dead_man_stays_armed_after_a_hangup_and_a_quit_disarms_it(term: Tmux, tmp_path: Path, how: str) -> None:
    sim = ThreadedSim()
    try:
        env = dict(_env(tmp_path), CASHUP_GATE_REST_URL=sim.sim.rest_url, CASHUP_GATE_WS_URL=sim.sim.ws_url,
                   CASHUP_GATE_API_KEY=FAKE_API_KEY, CASHUP_GATE_API_SECRET=FAKE_API_SECRET)
        _start(term, env, " tui --mode testnet", "TESTNET")
        venue = sim.sim.state.venue
        assert sim.on_loop(lambda: dict(venue._countdowns)), "the node arms countdown_cancel_all while healthy"
        _place_order_with_keys(term)  # the workstation's own order (the sim may fill it at once)
        mark = sim.on_loop(lambda: venue.mark_price("BTC_USDT"))  # and one that surely rests, on the account
        sim.on_loop(lambda: venue.place("BTC_USDT", 1, int(mark * Decimal("0.9")), tif="gtc", text="t-resting"))
        pid = _cashup_pid(term)
        if how == "hangup":
            term.kill()
        else:
            term.keys("q")  # an order rests: the app asks first (it cancels nothing)
            term.wait_for(lambda s: "Quit?" in s and "order" in s, timeout=20, what="the quit question")
            term.keys("y")
        assert _wait_gone(pid, EXIT_WITHIN_S + (10 if how == "quit" else 0))
        db = next((tmp_path / "data").glob("*.sqlite"))
        audit = audit_actions(db)
        assert audit[-1] == "node.stop"
        armed = sim.on_loop(lambda: dict(venue._countdowns))
        mine = sim.on_loop(lambda: [o for o in venue.list_orders(status="open", limit=100) if o.text == "t-resting"])
        assert len(mine) == 1  # the order rests at the venue after the process is gone
        if how == "hangup":
            assert armed and "dead_man.armed" in audit and "dead_man.disarm" not in audit
        else:
            assert not armed and "dead_man.disarm" in audit
        # time passes beyond any countdown: the venue cancels the order only when the switch was left armed
        sim.on_loop(lambda: venue.advance(max(armed.values()) + 1_000 if armed else venue._now + 60_000))
        still = sim.on_loop(lambda: [o for o in venue.list_orders(status="open", limit=100)
                                     if o.text == "t-resting"])
        assert len(still) == (0 if how == "hangup" else 1)
    finally:
        sim.close()
