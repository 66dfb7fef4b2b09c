"""Replay sources: the recorded Gate frames (real snapshot + real U/u deltas) and candle CSVs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from cashup_tui.adapters.sim.replay import FrameReplayMarket, load_replay
from cashup_tui.adapters.sim.server import SimServer, wall_ms
from cashup_tui.domain.errors import DataError, ValidationError

T0 = 1_700_000_000_000
FRAMES = "futures_usdt_ws_frames_2023-05-24.jsonl"


def _apply(book: dict[str, dict[str, int]], upd: dict) -> None:
    for side, key in (("bids", "b"), ("asks", "a")):
        for lvl in upd[key]:
            if int(lvl["s"]) == 0:
                book[side].pop(lvl["p"], None)
            else:
                book[side][lvl["p"]] = int(lvl["s"])


def test_frame_replay_serves_the_captured_books_and_ids(gateio_dir: Path) -> None:
    m = load_replay(gateio_dir / FRAMES, start_ms=T0)
    assert isinstance(m, FrameReplayMarket) and len(m.symbols) == 10
    snaps = {r["symbol"]: r["body"] for r in map(json.loads, (gateio_dir / "futures_usdt_rest_order_book_with_id_2023-05-24.jsonl").read_text().splitlines())}
    # independent reference: the captured snapshot + every captured delta after it
    expected = {s: {"bids": {x["p"]: int(x["s"]) for x in b["bids"]}, "asks": {x["p"]: int(x["s"]) for x in b["asks"]}} for s, b in snaps.items()}
    last_id = {s: b["id"] for s, b in snaps.items()}
    for line in (gateio_dir / FRAMES).read_text().splitlines():
        row = json.loads(line)
        msg = row.get("msg") or {}
        if row["dir"] == "in" and msg.get("channel") == "futures.order_book_update" and msg.get("event") == "update":
            r = msg["result"]
            if r["u"] > last_id[r["s"]]:
                _apply(expected[r["s"]], r)
                last_id[r["s"]] = r["u"]
    # a client syncing against the replay through the recipe at depth 100
    clients = {}
    for s, sm in m.symbols.items():
        snap = sm.order_book(100)
        assert snap["id"] == snaps[s]["id"]  # the real snapshot id
        clients[s] = ({"bids": {x["p"]: x["s"] for x in snap["bids"]}, "asks": {x["p"]: x["s"] for x in snap["asks"]}}, snap["id"])
    for i in range(600):  # 60 s at 10 Hz covers the 32 s capture
        for r in m.step(T0 + (i + 1) * 100):
            if not r.book_changed:
                continue
            sm = m.symbols[r.symbol]
            upd = sm.book_update(r.first_id, 100, False)
            book, local = clients[r.symbol]
            assert upd["U"] <= local + 1 <= upd["u"]
            _apply(book, upd)
            clients[r.symbol] = (book, upd["u"])
            assert sm.bid_view[0][0] < sm.ask_view[0][0]
    assert m.finished
    for s, (book, local) in clients.items():
        assert local == last_id[s]
        top_b = dict(sorted(book["bids"].items(), key=lambda kv: -Decimal(kv[0]))[:100])
        top_e = dict(sorted(expected[s]["bids"].items(), key=lambda kv: -Decimal(kv[0]))[:100])
        assert top_b == top_e, s
    # DIA_USDT: the snapshot is as new as the stream, so no delta follows it
    assert m.symbols["DIA_USDT"].book_id == snaps["DIA_USDT"]["id"]


@pytest.mark.timeout(30)
async def test_frame_replay_through_the_server(gateio_dir: Path) -> None:
    market = load_replay(gateio_dir / FRAMES, start_ms=wall_ms(), tick_ms=20, symbols=["RDNT_USDT"], speed=4.0)
    async with SimServer(market=market, tick_ms=20) as sim, aiohttp.ClientSession() as http:
        async with http.get(f"{sim.rest_url}/futures/usdt/order_book", params={"contract": "RDNT_USDT", "limit": "100", "with_id": "true"}) as resp:
            snap = await resp.json()
        async with http.ws_connect(sim.ws_url) as ws:
            await ws.send_json({"time": 0, "channel": "futures.order_book_update", "event": "subscribe", "payload": ["RDNT_USDT", "100ms", "100"]})
            ups = []
            while len(ups) < 5:
                msg = json.loads((await ws.receive(timeout=10)).data)
                if msg["event"] == "update":
                    ups.append(msg["result"])
        assert ups[0]["u"] > 203_000_000  # Gate's real id space
        chain = [snap["id"], *[u["u"] for u in ups]]
        assert all(u["U"] > prev for u, prev in zip(ups, chain, strict=False))


def test_candle_replay_follows_the_csv(market_dir: Path) -> None:
    path = market_dir / "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"
    m = load_replay(path, start_ms=T0, history=300)
    sm = m.symbols["BTC_USDT"]
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    hist = sm.candles("1h", limit=301)[:-1]  # the last row is the live bar
    assert [float(h["c"]) for h in hist] == pytest.approx([float(r[4]) for r in rows[:300]], abs=0.1)
    # the live mid walks each candle O -> extremes -> C in 10 steps
    for k in range(3):
        for i in range(10):
            m.step(T0 + (k * 10 + i + 1) * 100)
        assert sm.mid * float(sm.tick) == pytest.approx(float(rows[300 + k][4]), abs=0.2)
    # and the book never crosses while it does
    b, a = sm.best()
    assert b[0] < a[0]


def test_replay_bad_inputs(tmp_path: Path, gateio_dir: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_replay(tmp_path / "nope.jsonl", start_ms=T0)
    bad = tmp_path / "x.txt"
    bad.write_text("hello")
    with pytest.raises(DataError, match="unknown replay format"):
        load_replay(bad, start_ms=T0)
    lonely = tmp_path / "frames.jsonl"
    lonely.write_text((gateio_dir / FRAMES).read_text())
    with pytest.raises(DataError, match="REST snapshot"):
        load_replay(lonely, start_ms=T0)
    csvf = tmp_path / "BTC_USDT_1m.csv"
    csvf.write_text("open_time_ms,open,high,low,close,volume\n1,10,9,8,9,1\n2,9,10,8,9,1\n")
    with pytest.raises(DataError, match="line 2"):
        load_replay(csvf, start_ms=T0)
    csvf.write_text("open_time_ms,open,high,low,close,volume\n1,10,11,8,9,1\n")
    with pytest.raises(DataError, match="at least 2"):
        load_replay(csvf, start_ms=T0)
    nosym = tmp_path / "candles.csv"
    nosym.write_text("open_time_ms,open,high,low,close,volume\n60000,10,11,8,9,1\n120000,9,10,8,9,1\n")
    with pytest.raises(ValidationError, match="--symbols"):
        load_replay(nosym, start_ms=T0)
    assert "BTC_USDT" in load_replay(nosym, start_ms=T0, symbols=["BTC_USDT"]).symbols
    with pytest.raises(DataError, match="contracts in this capture"):
        load_replay(gateio_dir / FRAMES, start_ms=T0, symbols=["BTC_USDT"])
