"""`cashup data fetch` end to end: a real `cashup` process downloads candles from the simulator's REST
endpoints through the ccxt adapter into a real SQLite store, and reports gaps."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cashup_tui.adapters.sim.rest import REST_HITS
from cashup_tui.adapters.sim.server import SimServer


async def _serve(symbols: list[str]) -> AsyncIterator[SimServer]:
    server = SimServer(symbols, seed=5, run_loop=False, backfill=240)
    await server.start()
    server.step()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async for server in _serve(["BTC_USDT"]):
        yield server


async def cashup(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cashup_tui", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_fetch_stores_candles_and_reports_leading_gap(sim: SimServer, tmp_path: Path) -> None:
    db = str(tmp_path / "candles.sqlite")
    rows = sim.state.market.candles("BTC_USDT", "1m", None, None, 2000)
    closed = rows[:-1]  # the last bar is still in progress: fetch stores closed bars only
    first_ms = closed[0]["t"] * 1000
    since = first_ms - 60 * 60_000  # one hour before the simulator's history starts -> a 60-bar hole
    # an explicit end keeps both fetches to the same closed bars even if the wall-clock minute rolls over meanwhile
    until = closed[-1]["t"] * 1000 + 60_000
    code, out, err = await cashup("--db", db, "data", "fetch", "--symbol", "BTC_USDT", "--timeframe", "1m",
                                  "--since", str(since), "--until", str(until), "--rest-url", sim.rest_url,
                                  "--json")  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert res["gaps"] == 1 and res["missing_bars"] == 60
    assert res["bars"] == res["stored"] == len(closed)
    assert sim.app[REST_HITS]["GET /api/v4/futures/usdt/candlesticks"] == 1  # < 1999 bars: one page

    from cashup_tui.store import candles, open_store

    store = open_store(db)
    try:
        df = candles.load_candles(store, "BTC_USDT", "1m")
    finally:
        store.close()
    by_t = {r["t"] * 1000: r for r in rows}
    assert len(df) == res["stored"]
    for t, c, v in zip(df["open_ms"].tolist(), df["close"].tolist(), df["volume"].tolist(), strict=True):
        assert c == float(by_t[t]["c"]) and v == float(by_t[t]["v"])

    # the same range again: overwritten in place, no duplicates
    code, out, err = await cashup("--db", db, "data", "fetch", "-s", "BTC_USDT", "-t", "1m", "--since", str(since),
                                  "--until", str(until), "--rest-url", sim.rest_url)  # fmt: skip
    assert code == 0, err
    assert "gaps: 1 hole(s), 60 missing bars" in out
    code, out, _ = await cashup("--db", db, "data", "list", "--json")
    (series,) = json.loads(out)
    assert series["rows"] == res["stored"] and series["gaps"] == 0


async def cashup_inproc(*args: str) -> tuple[int, str]:
    """The same CLI in this process (a worker thread runs its own asyncio loop): faster than a new interpreter."""
    from typer.testing import CliRunner

    from cashup_tui.cli.main import app

    res = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    return res.exit_code, res.output


async def test_fetch_errors_are_one_clean_line(sim: SimServer, tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite")
    code, out = await cashup_inproc("--db", db, "data", "fetch", "-s", "NOPE_USDT", "-t", "1m", "--rest-url", sim.rest_url)
    assert code == 1 and "CONTRACT_NOT_FOUND" in out and "Traceback" not in out
    code, out = await cashup_inproc("--db", db, "data", "fetch", "-s", "BTC_USDT", "-t", "2m", "--rest-url", sim.rest_url)
    assert code == 2 and "'2m' is not one of '10s', '1m'" in out  # a typer choice
    with socket.socket() as s:  # bound, never listening: refused, and no parallel test can take the port meanwhile
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        code, out = await cashup_inproc("--db", db, "data", "fetch", "-s", "BTC_USDT", "-t", "1h",
                                        "--rest-url", f"http://127.0.0.1:{port}/api/v4")  # fmt: skip
    assert code == 1 and "could not reach" in out and "Traceback" not in out


@pytest.fixture
async def sim2() -> AsyncIterator[SimServer]:
    async for server in _serve(["BTC_USDT", "ETH_USDT"]):
        yield server


async def test_fetch_many_symbols_and_timeframes_resumes(sim2: SimServer, tmp_path: Path) -> None:
    db = str(tmp_path / "many.sqlite")
    hits = sim2.app[REST_HITS]
    last_1h = sim2.state.market.candles("BTC_USDT", "1h", None, None, 2000)[-2]["t"] * 1000  # the last closed bar
    until = str(last_1h + 3_600_000)  # explicit: the same bars whatever the wall clock does meanwhile
    many = ["data", "fetch", "--timeframes", "1h,4h", "--days", "2", "--until", until, "--rest-url", sim2.rest_url]
    # a symbol the venue does not list stops the fetch there, naming it; the series before it are stored
    code, out = await cashup_inproc("--db", db, *many, "--symbols", "BTC_USDT,NOPE_USDT")
    assert code == 1 and "NOPE_USDT 1h:" in out and "CONTRACT_NOT_FOUND" in out and "Traceback" not in out
    assert "series stored so far: BTC_USDT 1h, BTC_USDT 4h (run again to continue)" in out
    assert "fetched 48 1h bars of BTC_USDT" in out and "fetched 12 4h bars of BTC_USDT" in out
    before = hits["GET /api/v4/futures/usdt/candlesticks"]
    code, out = await cashup_inproc("--db", db, *many, "--symbols", "BTC_USDT,ETH_USDT")
    assert code == 0, out
    lines = out.splitlines()
    btc = [ln.split(" (")[0] for ln in lines if ln.startswith("BTC_USDT")]
    assert btc == ["BTC_USDT 1h is up to date", "BTC_USDT 4h is up to date"]  # resumed: not downloaded again
    assert "fetched 48 1h bars of ETH_USDT" in out and "fetched 12 4h bars of ETH_USDT" in out
    assert hits["GET /api/v4/futures/usdt/candlesticks"] - before == 2  # ETH's two series, one page each
    code, out = await cashup_inproc("--db", db, "data", "list", "--json")
    got = {(s["symbol"], s["timeframe"]): s["rows"] for s in json.loads(out)}
    assert got == {("BTC_USDT", "1h"): 48, ("BTC_USDT", "4h"): 12, ("ETH_USDT", "1h"): 48, ("ETH_USDT", "4h"): 12}
    code, out = await cashup_inproc("--db", db, "data", "fetch", "--symbol", "BTC_USDT", "--symbols", "ETH_USDT")
    assert code == 2 and "give --symbol S or --symbols A,B,C" in out
