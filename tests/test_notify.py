"""Notifications: loopback JSON + SMTP delivery, routing, QANotify encoding, failures, stalls."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.adapters.notify import NotificationService
from cashup_tui.adapters.notify_channels import parse_channel, qanotify_params, validate_url
from cashup_tui.adapters.notify_messages import render
from cashup_tui.domain import events as ev
from cashup_tui.domain.enums import Side, TradingState
from cashup_tui.domain.errors import ConfigError
from cashup_tui.domain.orders import Fill
from tests.notify_helpers import LagProbe, hanging_server, http_sink, refused_port, smtp_sink, wait_for

TG = "tgram://123456789:AAFakeTelegramTokenForTests_0123456"


def _svc(urls: list[str], **kw: object) -> NotificationService:
    kw.setdefault("backoff_s", 0.01)
    chans = [parse_channel(u, i, timeout_s=1.0, connect_timeout_s=1.0) for i, u in enumerate(urls, 1)]
    return NotificationService(chans, **kw)  # type: ignore[arg-type]


# --- URL validation (the traps of reliability.md §4) ------------------------------------------


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mailtos://12345@qq.com:authcode55@smtp.qq.com:465", "unescaped '@'"),
        ("wxpusher://AT_fakeAppToken123", "no target"),
        ("pushplus://shorttoken", "32-64"),
        (TG, "no chat id"),
        ("tgram://notatoken/-100123", "BOT_TOKEN"),
        ("qanotify://", "no user id"),
        ("qanotify://someuser?template=nope", "unknown template"),
        ("nonsense", "not an apprise URL"),
        ("zzunknown://host/x", "rejected by apprise"),
    ],
)
def test_bad_urls_are_clear_config_errors(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as ei:
        validate_url(url, "notify.urls[1]")
    msg = str(ei.value)
    assert fragment in msg and "notify.urls[1]" in msg and ei.value.hint
    for secret in ("authcode55", "AT_fakeAppToken123", "AAFakeTelegramTokenForTests"):
        assert secret not in msg  # the URL (and its token) is never echoed


@pytest.mark.parametrize(
    "url",
    [
        TG + "/-1001234567890",
        "mailtos://12345:authcode@qq.com?to=ops@example.com",
        "mailtos://12345%40qq.com:pw@qq.com?smtp=smtp.qq.com&mode=ssl&to=ops@example.com",
        "pushplus://" + "a" * 32,
        "wxpusher://AT_fakeAppToken123/UID_someone",
        "json://127.0.0.1:9/hook?+X-Source=cashup",
        "qanotify://oL-C4w1HjuPRq?template=price_notify",
    ],
)
def test_good_urls_validate(url: str) -> None:
    assert validate_url(url) is not None


def test_tags_and_timeouts() -> None:
    ch = parse_channel("critical,warning=" + TG + "/-100123", 3, timeout_s=2, connect_timeout_s=1.5)
    assert ch.tags == {"critical", "warning"} and ch.label == "#3 tgram"
    assert "rto=2" in ch.url and "cto=1.5" in ch.url and TG not in repr(ch)
    assert parse_channel("json://127.0.0.1:9/h?rto=7", 1).url.count("rto=") == 1
    with pytest.raises(ConfigError, match="unknown severity tag"):
        parse_channel("urgent=" + TG + "/-1", 1)


def test_channel_tokens_are_registered_for_redaction() -> None:
    from cashup_tui.logging_setup import redact

    parse_channel("pushplus://" + "Tk" * 20, 1)
    assert "Tk" * 20 not in redact("error sending with token " + "Tk" * 20)


def test_templates_render_every_event() -> None:
    title, body = render("fill", {"side": "buy", "size": 2, "symbol": "BTC_USDT", "price": 65000, "fee": "0.1",
                                  "liquidity": "maker", "client_id": "t-1", "trade_id": "99", "time": "now"})
    assert title == "Fill: BUY 2 BTC_USDT @ 65000" and "trade 99" in body
    # a template missing a field falls back to plain lines instead of losing the message
    title, body = render("fill", {"symbol": "X"})
    assert title == "fill" and "symbol: X" in body
    for name in ("rejection", "risk_trip", "kill_switch", "strategy_error", "disconnect", "daily_pnl", "alert",
                 "message", "test"):
        from cashup_tui.adapters.notify_templates import environment

        assert environment().get_template(f"{name}.j2")


# --- delivery -----------------------------------------------------------------------------


async def test_delivered_to_loopback_json_server_with_routing() -> None:
    async with http_sink() as sink:
        svc = _svc([
            "critical=" + sink.url("json", "/crit?+X-Source=cashup"),
            "info=" + sink.url("json", "/info"),
        ])
        async with svc:
            svc.publish(ev.RiskTripped(1, "daily_loss", "loss 2100 > 2000", TradingState.HALTED))
            svc.publish(ev.OrderFilled(2, Fill("77", "t-abc", "BTC_USDT", Side.SELL, Decimal(3), Decimal("64000.5"))))
            assert svc.submit("disconnect", "warning", stream="ws", reason="x", kind="lost") is False  # no channel
            assert await wait_for(lambda: len(sink.got) == 2)
        by_path = {g.path: json.loads(g.body) for g in sink.got}
        assert by_path["/crit"]["title"] == "RISK TRIP: daily_loss -> HALTED"
        assert by_path["/crit"]["type"] == "failure"
        assert by_path["/info"]["title"] == "Fill: SELL 3 BTC_USDT @ 64000.5"
        assert svc.stats["sent"] == 2 and svc.stats["no_channel"] == 1
        assert {r.outcome for r in svc.history} == {"sent"}


async def test_delivered_to_smtp_sink() -> None:
    async with smtp_sink() as (port, messages):
        url = f"mailto://127.0.0.1:{port}?mode=insecure&from=cashup@example.com&to=ops@example.com"
        svc = _svc([url])
        async with svc:
            svc.publish(ev.StrategyFailed(1, "ema_cross", "ema_cross.py:42", "ZeroDivisionError"))
            assert await wait_for(lambda: len(messages) == 1, timeout=10)
        env = messages[0]
        assert env.rcpt_tos == ["ops@example.com"] and "cashup@example.com" in env.mail_from
        text = env.content.decode("utf-8", "replace")
        assert "Strategy ema_cross halted" in text and "ema_cross.py:42" in text
        assert svc.stats["sent"] == 1


async def test_qanotify_values_arrive_intact() -> None:
    async with http_sink() as sink:
        svc = _svc([f"qanotify://oL-C4w1HjuPRq?endpoint=http://127.0.0.1:{sink.port}/signal"])
        async with svc:
            svc.publish(ev.StrategyFailed(1, "网格 & co", "grid.py:7", "止损触发 & 杠杆=5x"))
            svc.publish(ev.OrderFilled(2, Fill("t1", "t-q&1", "ETH_USDT", Side.BUY, Decimal("1.5"), Decimal(3000))))
            from cashup_tui.adapters.notify_messages import alert_notification
            from cashup_tui.domain.alerts import AlertEngine, parse_rule

            eng = AlertEngine([parse_rule("BTC_USDT price above 70000", "a=1&b")])
            eng.on_price("BTC_USDT", Decimal(69000), 1)
            (fired,) = eng.on_price("BTC_USDT", Decimal(70001), 2)
            name, sev, key, fields, qa = alert_notification(fired)
            svc.submit(name, sev, dedup_key=key, qanotify=qa, **fields)
            assert await wait_for(lambda: len(sink.got) == 3)
        q = {g.query["template"]: g.query for g in sink.got}
        s = q["strategy_status"]
        assert s["user_id"] == "oL-C4w1HjuPRq"
        assert s["name"] == "网格 & co" and s["stype"] == "止损触发 & 杠杆=5x" and s["remark"] == "grid.py:7"
        x = q["xiadan_report"]
        assert (x["code"], x["order_direction"], x["price"], x["volume"], x["strategy_id"]) == (
            "ETH_USDT", "BUY", "3000", "1.5", "t-q&1")
        p = q["price_notify"]
        assert (p["name"], p["curprice"], p["limitprice"], p["orderid"]) == ("BTC_USDT", "70001", "70000", "a=1&b")
        assert set(s) == {"user_id", "template", "first", "name", "stype", "frequence", "remark"}


def test_qanotify_plain_text_falls_back_to_strategy_status() -> None:
    p = qanotify_params("hello & 你好", "Title=1", {})
    assert p["template"] == "strategy_status" and p["first"] == "Title=1" and p["stype"] == "hello & 你好"
    p = qanotify_params("body", "T", {"template": "price_notify"})
    assert p["template"] == "price_notify" and p["first"] == "T" and p["remark"] == "body"


# --- failures -----------------------------------------------------------------------------


async def test_500_and_refused_are_counted_and_retried_never_raised() -> None:
    async with http_sink() as sink:
        svc = _svc([sink.url("json", "/fail"), f"json://127.0.0.1:{refused_port()}/x"], retries=2)
        async with svc:
            assert svc.submit("message", "info", title="t", body="b")
            assert await wait_for(lambda: svc.stats["failed"] == 2, timeout=10)
        assert len([r for r in sink.got if r.path == "/fail"]) == 3  # 1 try + 2 retries against the 500 endpoint
        assert svc.stats["retries"] == 4 and svc.stats["sent"] == 0
        failed = [r for r in svc.history if r.outcome == "failed"]
        assert len(failed) == 2 and all(r.attempts == 3 for r in failed)


async def test_hanging_endpoint_during_a_burst_does_not_stall_the_loop() -> None:
    async with hanging_server() as (port, hits), http_sink() as sink:
        svc = _svc([f"json://127.0.0.1:{port}/hook?rto=0.5&cto=0.5", sink.url("json", "/healthy")],
                   retries=1, queue_size=1000, rate_limit_per_min=1000)
        await svc.start()
        probe = LagProbe().start()
        work = 0

        async def trading() -> None:  # stands in for the trading loop
            nonlocal work
            while True:
                work += 1
                await asyncio.sleep(0.001)

        t = asyncio.create_task(trading())
        t0 = time.perf_counter()
        for i in range(100):
            svc.submit("fill", "info", symbol="BTC_USDT", side="buy", size=i + 1, price=1, fee=0, liquidity="taker",
                       client_id=f"t-{i}", trade_id=str(i))
        submit_s = time.perf_counter() - t0
        # the healthy channel gets all 100 while the other one hangs: lanes are independent
        assert await wait_for(lambda: len(sink.got) == 100, timeout=10)
        await asyncio.sleep(1.0)
        worst = await probe.stop()
        t.cancel()
        await svc.stop(drain_s=0)
        assert hits, "the hanging endpoint was contacted"
        # the <= 100 ms target is measured by bench/orders.py on an idle machine; here (a loaded CI worker)
        # the property is that the loop never waits for the hanging endpoint, which would stall >= 0.5 s
        assert submit_s < 0.25, submit_s
        assert worst < 0.4, f"event loop stalled {worst * 1000:.0f} ms"
        assert work > 300  # the trading task kept running
        assert svc.stats["sent"] == 100 and svc.stats["retries"] >= 2
        assert sum(r.outcome == "dropped" and r.channel == "#1 json" for r in svc.history) > 0


async def test_rate_limit_per_channel_critical_passes() -> None:
    async with http_sink() as sink:
        svc = _svc([sink.url("json", "/h")], rate_limit_per_min=3)
        async with svc:
            for i in range(6):
                svc.submit("message", "info", title=f"m{i}", body="b")
            svc.submit("message", "critical", title="crit", body="b")
            assert await wait_for(lambda: svc.stats["sent"] + svc.stats["rate_limited"] == 7)
        assert svc.stats["sent"] == 4 and svc.stats["rate_limited"] == 3
        assert "crit" in {json.loads(g.body)["title"] for g in sink.got}


async def test_dedup_window_and_repeat_count() -> None:
    now = [100.0]
    async with http_sink() as sink:
        svc = _svc([sink.url("json", "/h")], dedup_window_s=60, clock=lambda: now[0])
        async with svc:
            for _ in range(5):
                svc.publish(ev.FeedDisconnected(1, "futures.tickers", "1006"))
            assert await wait_for(lambda: len(sink.got) == 1)
            now[0] += 61
            svc.publish(ev.FeedDisconnected(2, "futures.tickers", "1006"))
            assert await wait_for(lambda: len(sink.got) == 2)
        assert svc.stats["deduplicated"] == 4
        assert "(+4 similar suppressed)" in json.loads(sink.got[1].body)["message"]


async def test_overflow_drops_the_oldest_info_and_counts() -> None:
    svc = _svc(["json://127.0.0.1:9/h"], queue_size=3)  # not started: nothing drains
    for name, sev in [("i1", "info"), ("i2", "info"), ("c1", "critical"), ("c2", "critical"), ("i3", "info"),
                      ("w1", "warning"), ("i4", "info"), ("c3", "critical")]:
        svc.submit("message", sev, title=name, body="")
    assert [n.fields["title"] for n in svc.pending()] == ["c1", "c2", "c3"]
    assert svc.stats["dropped"] == 5
    dropped = [r for r in svc.history if r.outcome == "dropped"]
    assert [r.severity for r in dropped] == ["info", "info", "info", "info", "warning"]


async def test_history_sink_receives_records_and_its_failure_is_contained() -> None:
    seen: list[object] = []

    def sink_fn(rec: object) -> None:
        seen.append(rec)
        raise RuntimeError("db down")

    async with http_sink() as sink:
        svc = _svc([sink.url("json", "/h")], history=sink_fn)
        async with svc:
            svc.submit("message", "info", title="x", body="y")
            assert await wait_for(lambda: svc.stats["sent"] == 1)
    assert len(seen) == 1 and svc.stats["history_errors"] == 1


async def test_channel_url_never_reaches_the_log(tmp_path: Path) -> None:
    from cashup_tui.logging_setup import configure_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    path = configure_logging("DEBUG", file=tmp_path / "n.log")
    try:
        token = "PathTokenSecret0123456789"
        svc = _svc([f"json://127.0.0.1:{refused_port()}/hook/{token}"], retries=0)
        async with svc:
            svc.submit("message", "info", title="x", body="y")
            assert await wait_for(lambda: svc.stats["failed"] == 1)
        for h in root.handlers:
            h.flush()
        text = path.read_text()
        assert "failed" in text and token not in text
    finally:
        for h in list(root.handlers):
            if getattr(h, "_cashup_handler", False):
                root.removeHandler(h)
                h.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


async def test_notifier_port_and_event_mapping() -> None:
    from cashup_tui.domain.ports import EventSink, Notifier

    svc = _svc(["json://127.0.0.1:9/h"])
    assert isinstance(svc, Notifier) and isinstance(svc, EventSink)
    assert await svc.notify("t", "b", severity="warning")
    svc.publish(ev.TradingStateChanged(1, TradingState.ACTIVE, TradingState.REDUCING, "kill key"))
    svc.publish(ev.FeedConnected(1, "ws"))  # ignored
    assert [n.event for n in svc.pending()] == ["message", "kill_switch"]
    assert svc.pending()[1].severity == "critical"


async def test_daily_pnl_and_alert_helpers() -> None:
    from cashup_tui.domain.alerts import AlertEngine, parse_rule

    async with http_sink() as sink:
        svc = _svc([sink.url("json", "/h")])
        async with svc:
            assert svc.daily_pnl("2025-01-02", realized=Decimal("120.5"), unrealized=Decimal("-3"), fees=Decimal("1.2"),
                                 funding=Decimal("0.4"), equity=Decimal("10116.7"))
            assert not svc.daily_pnl("2025-01-02", realized=1, unrealized=0, fees=0, funding=0, equity=1)  # once/day
            eng = AlertEngine([parse_rule("SOL_USDT move 5% 1h")])
            eng.on_price("SOL_USDT", Decimal(100), 0)
            (fired,) = eng.on_price("SOL_USDT", Decimal(94), 60_000)
            assert svc.alert(fired)
            assert await wait_for(lambda: len(sink.got) == 2)
        titles = sorted(json.loads(g.body)["title"] for g in sink.got)
        assert titles == ["Alert: SOL_USDT moved -6.00% within 3600s (100 -> 94)", "Daily PnL 2025-01-02: 120.5 realised"]


async def test_attach_to_the_engine_bus() -> None:
    from cashup_tui.engine.bus import EventBus

    bus = EventBus()
    svc = _svc(["json://127.0.0.1:9/h"])
    unsubscribe = svc.attach(bus)
    bus.publish(ev.FeedDisconnected(1, "futures.order_book", "1006"))
    bus.publish(ev.FeedConnected(2, "futures.order_book"))
    unsubscribe()
    bus.publish(ev.FeedDisconnected(3, "futures.trades", "1000"))
    assert [n.fields["stream"] for n in svc.pending()] == ["futures.order_book"] and bus.errors == 0
