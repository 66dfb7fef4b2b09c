"""Pilot test of `/` and the watchlist on the REAL demo node (the in-process Gate simulator on loopback):
the search lists every contract the venue lists, not only the watchlist; a query with no match says so
and keeps the dialog; enter shows the contract and puts it on the watchlist, streamed at once and saved
to the settings file (what the next start reads); `delete` takes it off again, in the file too."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from cashup_tui.app.modals.search import SymbolSearch
from cashup_tui.app.panes.market import Watchlist
from cashup_tui.service.config_edit import ConfigFile
from cashup_tui.settings import load_settings
from tests.tui_support import demo_app, press, wait_text, wait_until, watch_prices

pytestmark = pytest.mark.timeout(150)
LISTED = "BTC_USDT,ETH_USDT,SOL_USDT,XRP_USDT"  # what the demo venue lists ([sim] symbols)


def _settings_file(tmp_path: Path) -> Path:
    p = tmp_path / "cashup.toml"
    text = resources.files("cashup_tui").joinpath("cashup.example.toml").read_text(encoding="utf-8")
    p.write_text(text.replace('watchlist = ["BTC_USDT", "ETH_USDT", "SOL_USDT"]', 'watchlist = ["BTC_USDT"]'),
                 encoding="utf-8")
    return p


async def _toast(pilot: Any, needle: str) -> None:
    await wait_until(pilot, lambda: any(needle in str(n.message) for n in pilot.app._notifications), timeout=20,
                     what=f"a toast saying {needle!r}")


async def test_search_finds_every_listed_contract_and_the_watchlist_persists(tmp_path: Path) -> None:
    cfg = _settings_file(tmp_path)
    app, node = demo_app(tmp_path, symbols=["BTC_USDT"], environ={"CASHUP_SIM_SYMBOLS": LISTED})
    app.node.config = ConfigFile(cfg, environ={})
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: node.started and watch_prices(app).get("BTC_USDT", "—") != "—",
                         timeout=30, what="the node up, BTC priced")
        await press(pilot, "slash")
        await wait_until(pilot, lambda: isinstance(app.screen, SymbolSearch), timeout=15, what="the search")
        search = app.screen
        assert set(search.symbols) == set(LISTED.split(","))  # the venue's contracts, not the watchlist
        await wait_text(pilot, "Search 4 contracts")
        # no match: said plainly, the dialog stays
        await press(pilot, "z", "z", "q", "enter")
        await wait_text(pilot, "no match for 'zzq'")
        assert app.screen is search
        await press(pilot, *["backspace"] * 3, "x", "r", "p", "enter")
        await wait_until(pilot, lambda: app.symbol == "XRP_USDT" and not isinstance(app.screen, SymbolSearch),
                         timeout=15, what="XRP_USDT picked")
        await wait_until(pilot, lambda: "XRP_USDT" in app.node.watchlist(), timeout=15, what="XRP watched")
        await _toast(pilot, "XRP_USDT on the watchlist (saved to")
        # streamed at once: its row gets a price
        await wait_until(pilot, lambda: watch_prices(app).get("XRP_USDT", "—") not in ("—", ""), timeout=30,
                         what="XRP_USDT priced on the watchlist")
        # saved: the next start opens with it (the file keeps its comments)
        saved = load_settings(cfg, environ={})
        assert saved.ui.watchlist == ["BTC_USDT", "XRP_USDT"]
        assert "# Mode the workstation opens in" in cfg.read_text(encoding="utf-8")
        # delete on the selected watchlist row: off the pane and out of the file
        wl = app.query_one(Watchlist)
        wl.focus()
        assert wl.select_symbol("XRP_USDT")
        await press(pilot, "delete")
        await wait_until(pilot, lambda: "XRP_USDT" not in watch_prices(app), timeout=15, what="XRP off the pane")
        assert load_settings(cfg, environ={}).ui.watchlist == ["BTC_USDT"]
        # the last contract stays: the watchlist is never empty
        assert wl.select_symbol("BTC_USDT")
        await press(pilot, "delete")
        await _toast(pilot, "the watchlist needs at least one contract")
        assert list(watch_prices(app)) == ["BTC_USDT"] and app.node.watchlist() == ["BTC_USDT"]
        await press(pilot, "q")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=20, what="the app to exit")
