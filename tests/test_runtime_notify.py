"""Notifications from a running node: a fill and a risk trip reach a loopback JSON webhook and
the store's history, while an unreachable second channel changes nothing in trading."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.domain.enums import OrderStatus
from cashup_tui.runtime import build_node
from cashup_tui.settings import Settings, replace_section
from tests.notify_helpers import http_sink, refused_port
from tests.test_runtime_faults import _until

pytestmark = pytest.mark.timeout(60)


async def test_fill_and_kill_switch_are_notified(tmp_path: Path) -> None:
    async with http_sink() as sink:
        dead = refused_port()
        s = replace_section(Settings(), "notify", urls=[sink.url("json", "/hook"), f"json://127.0.0.1:{dead}/x"],
                            retries=0, timeout_s=1.0)
        node = build_node(s, "demo", db_url=str(tmp_path / "n.sqlite"), symbols=["BTC_USDT"])
        await node.start()
        try:
            r = await node.om.submit(node.om.build("BTC_USDT", "buy", Decimal(5), order_type="market"))
            assert r.order.status is OrderStatus.FILLED
            await node.om.kill(1, "notify test", source="test")
            for _ in range(200):
                bodies = " ".join(x.body for x in sink.got)
                if "BTC_USDT" in bodies and "kill" in bodies.lower():
                    break
                await asyncio.sleep(0.05)
            payloads = [json.loads(x.body) for x in sink.got]
            assert any("BTC_USDT" in (p.get("title", "") + p.get("message", "")) for p in payloads), payloads
            assert any("kill" in (p.get("title", "") + p.get("message", "")).lower() for p in payloads), payloads
        finally:
            await node.stop()
    from cashup_tui.store import open_store
    from cashup_tui.store.records import list_notifications

    db = open_store(str(tmp_path / "n.sqlite"))
    rows = list_notifications(db, 50)
    assert any(r.status == "sent" for r in rows)
    assert any(r.status != "sent" for r in rows)  # the refused channel is recorded as failed, not raised


async def test_alert_rules_fire_once_and_reach_the_webhook(tmp_path: Path) -> None:
    from cashup_tui.domain.alerts import parse_rule

    async with http_sink() as sink:
        s = replace_section(Settings(), "notify", urls=[sink.url("json", "/hook")], retries=0,
                            alerts=["BTC_USDT price above 1000000000"])
        node = build_node(s, "demo", db_url=None, symbols=["BTC_USDT"])
        await node.start()
        try:
            assert [r.describe() for r in node.alerts.rules] == ["BTC_USDT price above 1000000000"]
            # start waits for a mark and a book, not a ticker: wait for the first one
            assert await _until(lambda: node.cache.ticker("BTC_USDT") is not None, timeout=30.0), \
                "no BTC_USDT ticker from the demo feed within 30 s"
            ticker = node.cache.ticker("BTC_USDT")
            assert ticker is not None
            last = Decimal(str(ticker.last))
            tick = node.instruments["BTC_USDT"].price_tick
            node.supervisor.check_alerts(node.clock.now_ms())
            # one tick either side of the current price: any move of the live market crosses one of them
            node.alerts.add(parse_rule(f"BTC_USDT price crosses {last + tick}", "x"))
            node.alerts.add(parse_rule(f"BTC_USDT price crosses {last - tick}", "x2"))
            for _ in range(300):  # the seeded market oscillates around where it started
                node.supervisor.check_alerts(node.clock.now_ms())
                if node.alerts_fired:
                    break
                await asyncio.sleep(0.05)
            assert len(node.alerts_fired) >= 1
            for _ in range(100):
                if sink.got:
                    break
                await asyncio.sleep(0.05)
        finally:
            await node.stop()
    first = node.alerts_fired[0]
    assert first.rule.id in ("x", "x2") and "BTC_USDT" in first.message
    assert sink.got and "BTC_USDT" in sink.got[0].body
    assert all(f.rule.id in ("x", "x2") for f in node.alerts_fired)  # the unreachable level never fired


async def test_a_bad_alert_rule_is_a_clear_config_error() -> None:
    from cashup_tui.domain.errors import ConfigError

    s = replace_section(Settings(), "notify", alerts=["BTC_USDT price sideways 5"])
    node = build_node(s, "demo", db_url=None, symbols=["BTC_USDT"])
    with pytest.raises(ConfigError, match=r"notify.alerts\[1\]"):
        await node.start()


async def test_a_node_sends_with_the_users_template_and_refuses_a_broken_one(tmp_path: Path) -> None:
    """`templates_dir` (relative to the settings file) overrides the built-in fill message; a template
    with an unknown field stops start-up naming the file and line."""
    import dataclasses

    from cashup_tui.domain.errors import ConfigError

    folder = tmp_path / "desk"
    folder.mkdir()
    (folder / "fill.j2").write_text("DESK FILL {{ symbol }} {{ side }} x{{ size }}\nfee {{ fee }}\n")
    async with http_sink() as sink:
        s = replace_section(Settings(), "notify", urls=[sink.url("json", "/hook")], retries=0, templates_dir="desk")
        s = dataclasses.replace(s, config_file=str(tmp_path / "cashup.toml"))
        node = build_node(s, "demo", db_url=None, symbols=["BTC_USDT"])
        await node.start()
        try:
            r = await node.om.submit(node.om.build("BTC_USDT", "buy", Decimal(3), order_type="market"))
            assert r.order.status is OrderStatus.FILLED
            assert await _until(lambda: any("DESK FILL" in x.body for x in sink.got), 20)
            title = next(json.loads(x.body)["title"] for x in sink.got if "DESK FILL" in x.body)
            assert title == "DESK FILL BTC_USDT buy x3"
        finally:
            await node.stop()
    (folder / "fill.j2").write_text("Fill\n{{ symbol }}\n{{ sise }}\n")
    node = build_node(s, "demo", db_url=None, symbols=["BTC_USDT"])
    with pytest.raises(ConfigError, match=rf"{folder / 'fill.j2'}:3: 'sise' is undefined"):
        await node.start()
