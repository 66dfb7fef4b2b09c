"""Issue 11 on the real demo workstation (production factory, in-process simulator): keys named as typed,
the spread and sizes in the contract's own terms, quit and settings that show what matters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from cashup_tui.app.modals.confirm import Confirm
from cashup_tui.app.modals.help import HelpScreen
from cashup_tui.app.modals.ticket import OrderTicket
from tests.test_tui_pilot import SIZE, _best, _open_ticket, _quit, _ready
from tests.tui_support import demo_app, press, screen_text, wait_until

pytestmark = pytest.mark.timeout(150)


def _lines(app: Any) -> list[str]:
    return screen_text(app).splitlines()


async def test_help_names_keys_as_typed_with_the_ticket_keys_and_the_key_bar_has_one_help(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        footer = _lines(app)[-1]
        assert footer.count("? help") + footer.count("? Help") == 1, footer  # visible once, at 100 columns
        await press(pilot, "question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), timeout=15, what="the help screen")
        keys = dict(app.screen.rows)
        assert {"/", "?", ","} <= set(keys)
        assert not {"slash", "question_mark", "comma", "escape"} & set(keys)
        titles = [t for t, _ in app.screen.sections]
        ticket = dict(app.screen.sections[titles.index("Order ticket (b / s)")][1])
        assert {"enter", "f2", "esc"} <= set(ticket), ticket
        # the list scrolls with the keyboard down to the ticket's keys
        help_text = str(app.screen.query_one(Static).render())
        assert "slash" not in help_text and "question_mark" not in help_text
        await press(pilot, "end")
        await wait_until(pilot, lambda: "Buy/Sell" in screen_text(app), timeout=10, what="the ticket keys on screen")
        await press(pilot, "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), timeout=15, what="help closed")
        await _quit(pilot)


async def test_spread_uses_the_tick_and_sizes_carry_their_units(tmp_path: Path) -> None:
    import re
    from decimal import Decimal as D

    from cashup_tui.app.panes.market import render_ladder
    from cashup_tui.domain.market import BookLevel, BookSnapshot

    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        # the cases: a 0.05 ETH spread over a one-decimal ask, a 0.0001 SOL spread over a 3-decimal ask
        for sym, bid, ask, want in (("ETH_USDT", "1815.45", "1815.5", "spread 0.05"),
                                    ("SOL_USDT", "19.4009", "19.401", "spread 0.0001")):
            book = BookSnapshot(sym, 1, 1, (BookLevel(D(bid), D(3)),), (BookLevel(D(ask), D(2)),), True)
            assert want in render_ladder(book, 5, 40, app.node.instrument(sym)).plain
        # on screen: ETH's live ladder, tape, flow strip and watchlist say what their numbers are in
        await press(pilot, "slash", "e", "t", "h", "enter")
        await wait_until(pilot, lambda: app.symbol == "ETH_USDT", timeout=15, what="ETH_USDT selected")
        text = await _wait_re(pilot, r"spread \d+\.\d\d(?![\d.])")
        for unit in ("1 cont=0.01 ETH", "price USDT", "Vol USDT", "OI cont", "buy/sell"):
            assert unit in text, unit
        assert re.search(r"OI [\d.]+[kMB]? cont", text) and re.search(r"buy/sell \S+ cont", text), text
        await press(pilot, "slash", "s", "o", "l", "enter")
        await wait_until(pilot, lambda: app.symbol == "SOL_USDT", timeout=15, what="SOL_USDT selected")
        text = await _wait_re(pilot, r"spread \d+\.\d{4}(?![\d.])")
        assert "1 cont=1 SOL" in text
        await _quit(pilot)


async def _wait_re(pilot: Any, pattern: str) -> str:
    import re

    await wait_until(pilot, lambda: re.search(pattern, screen_text(pilot.app)) is not None,
                     timeout=15, what=pattern)
    return screen_text(pilot.app)


async def test_quit_asks_first_when_orders_or_positions_are_open_and_names_them(tmp_path: Path) -> None:
    from decimal import Decimal as D

    app, node = demo_app(tmp_path, symbols=["ETH_USDT", "BTC_USDT"])
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        inst = node.instruments["ETH_USDT"]
        # a 3-contract long (a marketable limit) and one resting bid, no strategy running
        _, ask = _best(node, "ETH_USDT")
        await _open_ticket(pilot, "b", "3", str(inst.round_price(ask * D("1.003"), "up")))
        await press(pilot, "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, OrderTicket), timeout=20, what="sent")
        pos = node.portfolio.positions
        await wait_until(pilot, lambda: "ETH_USDT" in pos and pos["ETH_USDT"].size == 3, timeout=20, what="the long")
        bid, _ = _best(node, "ETH_USDT")
        await _open_ticket(pilot, "b", "2", str(inst.round_price(bid * D("0.97"), "down")))
        await press(pilot, "enter")
        await wait_until(pilot, lambda: len(node.cache.open_orders()) == 1, timeout=20, what="a resting order")
        await press(pilot, "q")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the quit question")
        question = app.screen.question
        assert "1 position is open (ETH_USDT long 3)" in question, question
        assert "1 order is open (ETH_USDT)" in question, question
        assert "strateg" not in question.split(". Quit?")[0]
        assert "nothing is cancelled or closed" in question
        await press(pilot, "n")  # keeps everything
        await pilot.pause(0.2)
        assert app.return_code is None and len(node.cache.open_orders()) == 1
        await press(pilot, "q")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the quit question again")
        await press(pilot, "y")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=15, what="the app to exit after y")
    assert app.return_code == 0


async def test_settings_scroll_with_the_keyboard_to_every_section_and_keep_secrets_masked(tmp_path: Path) -> None:
    """`cashup`'s own factory (settings text included), a notification token in the environment."""
    from cashup_tui.app.modals.settings import SettingsScreen
    from cashup_tui.cli.tui import make_app
    from cashup_tui.settings import load_settings

    token = "123456:SECRETtokenABC"
    settings = load_settings(environ={"CASHUP_NOTIFY_URLS": f"tgram://{token}/999"})
    app = make_app(settings, "demo", str(tmp_path / "t.sqlite"))
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "comma")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen), timeout=15, what="the settings")
        seen = screen_text(app)
        assert "[store]" in seen and "[notify]" not in seen  # 30 rows do not hold them all
        for _ in range(120):  # down, one row at a time, to the last section
            await press(pilot, "down")
            seen += screen_text(app)
            if "[log]" in screen_text(app):
                break
        for section in ("[risk]", "[notify]", "[ui]", "[log]"):
            assert section in seen, section
        assert "tgram://***/***" in seen and token not in seen and "SECRET" not in seen
        await press(pilot, "home")
        await wait_until(pilot, lambda: "[store]" in screen_text(app), timeout=10, what="back at the top")
        await press(pilot, "end")
        await wait_until(pilot, lambda: "[log]" in screen_text(app), timeout=10, what="the end")
        await press(pilot, "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen), timeout=10, what="closed")
        await wait_until(pilot, lambda: app.node_ready, timeout=30, what="the node")
        await _quit(pilot)


def _preview_text(app: Any) -> str:
    return str(app.screen.query_one("#ticket-preview", Static).render())


async def test_ticket_preview_refuses_what_sending_refuses(tmp_path: Path) -> None:
    """A bracket whose take-profit is far outside the price band, and a half bracket: the preview said
    nothing and only sending refused; now the preview names the same rule the send gives."""
    from decimal import Decimal as D

    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        inst = node.instruments["BTC_USDT"]
        bid, _ = _best(node, "BTC_USDT")
        price = inst.round_price(bid * D("0.99"), "down")
        far_tp = inst.round_price(bid * D("1.5"), "down")  # 50% away: the band is 5%
        sl = inst.round_price(bid * D("0.97"), "down")
        await _open_ticket(pilot, "b", "1", str(price))
        await press(pilot, "tab", "tab", *str(far_tp), "tab", *str(sl))  # trigger, TP, SL
        await wait_until(pilot, lambda: "DENIED" in _preview_text(app), timeout=15, what="the preview to deny")
        assert "price_band" in _preview_text(app) and "take_profit_price" in _preview_text(app)
        await press(pilot, "enter")
        await wait_until(pilot, lambda: "NOT SENT" in _preview_text(app), timeout=15, what="the send refused")
        assert "price_band" in _preview_text(app) and "take_profit_price" in _preview_text(app)
        assert node.cache.orders() == [] and node.sim.state.venue.list_orders() == []
        # a half bracket (SL only): the same words before and at send
        await press(pilot, "shift+tab", "backspace")  # back to TP (focus selects it all), cleared
        await wait_until(pilot, lambda: "bracket needs both" in _preview_text(app), timeout=15,
                         what="the half bracket in the preview")
        await press(pilot, "escape")
        await _quit(pilot)


async def test_ticket_size_units_and_quick_sizes_of_the_free_margin(tmp_path: Path) -> None:
    from decimal import ROUND_DOWN
    from decimal import Decimal as D

    from textual.widgets import Input

    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        inst = node.instruments["BTC_USDT"]  # 1 contract = 0.0001 BTC
        bid, _ = _best(node, "BTC_USDT")
        price = inst.round_price(bid * D("0.99"), "down")
        ticket = await _open_ticket(pilot, "b", "12", str(price))
        size = ticket.query_one("#t-size", Input)
        await wait_until(pilot, lambda: "12 cont = 0.0012 BTC = " in _preview_text(app), timeout=15,
                         what="the conversion")
        assert f"= {float(12 * inst.quanto_multiplier * price):,.2f} USDT" in _preview_text(app)
        await press(pilot, "f3")  # contracts -> BTC: the same quantity, in coins
        await wait_until(pilot, lambda: size.value == "0.0012", timeout=10, what="the size in BTC")
        await press(pilot, "f3")  # -> USDT at the limit price
        await wait_until(pilot, lambda: size.value == f"{(12 * inst.quanto_multiplier * price).normalize():f}",
                         timeout=10, what="the size in USDT")
        await press(pilot, "f3", "f3")  # -> contracts -> BTC; type 0.0005 BTC
        await wait_until(pilot, lambda: size.value == "0.0012", timeout=10, what="BTC again")
        await press(pilot, "shift+tab")  # from price back to size: focus selects it all
        await press(pilot, *"0.0005")
        await wait_until(pilot, lambda: "5 cont = 0.0005 BTC" in _preview_text(app), timeout=10, what="5 contracts")
        await press(pilot, "backspace", *"00001")  # 0.00000001 BTC: less than one contract, said plainly
        await wait_until(pilot, lambda: "less than one contract" in _preview_text(app), timeout=10, what="too small")
        # f5: 25% of the free margin at the preview's leverage, the fee included, in whole contracts
        await press(pilot, "f5")
        pf = node.portfolio
        free, lev = pf.equity() - pf.margin_used(), pf.default_leverage
        fee = max(inst.maker_fee_rate, D(0))
        want = (D("0.25") * free / (inst.quanto_multiplier * price * (1 / lev + fee))).to_integral_value(ROUND_DOWN)
        await wait_until(pilot, lambda: f"{want} cont = " in _preview_text(app), timeout=10, what=f"{want} contracts")
        assert size.value == f"{(want * inst.quanto_multiplier).normalize():f}"  # shown in the chosen unit (BTC)
        assert "25/50/100% of the free margin" in screen_text(app)
        assert f"{float(free):,.2f} at {float(lev):g}x" in screen_text(app)
        # send 0.0005 BTC: the venue gets 5 contracts
        await press(pilot, "shift+tab", "tab", *"0.0005", "enter")  # type, then back into size
        await wait_until(pilot, lambda: not isinstance(app.screen, OrderTicket), timeout=20, what="sent")
        await wait_until(pilot, lambda: len(node.cache.open_orders()) == 1, timeout=20, what="the resting order")
        assert node.cache.open_orders()[0].size == 5
        await press(pilot, "q")  # an order is open: quitting asks
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the quit question")
        await press(pilot, "y")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=15, what="the app to exit")


async def test_keys_arriving_together_keep_their_order_in_the_ticket(tmp_path: Path) -> None:
    """"5", backspace, "2000" in one burst (as one read from a laggy SSH link delivers them): the backspace
    deletes the 5, it is not overtaken by the digits (Textualize/textual#6605: "7" became "75200")."""
    from textual import events
    from textual.widgets import Input

    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        ticket = await _open_ticket(pilot, "b", "7")
        size = ticket.query_one("#t-size", Input)
        burst = [("5", "5"), ("backspace", None), ("2", "2"), ("0", "0"), ("0", "0"), ("0", "0"),
                 ("left", None), ("left", None), ("delete", None), ("home", None), ("9", "9")]
        for key, char in burst:  # posted back to back, no pause between keys
            app.post_message(events.Key(key, char))
        await wait_until(pilot, lambda: size.value == "97200", timeout=10, what="97200 in the size field")
        await pilot.pause(0.3)
        assert size.value == "97200"
        await press(pilot, "escape")
        await _quit(pilot)
