"""Replay market sources for the simulator.

* Recorded Gate frames (`futures_usdt_ws_frames_*.jsonl` + the REST snapshot file
  beside it): each contract's book starts from its captured `order_book?with_id=true` snapshot and the
  captured `futures.order_book_update` deltas are applied at their recorded pace, keeping Gate's real
  U/u ids, so a client syncing against the simulator walks exactly the recipe it would on Gate. When the
  capture ends the book holds still (tickers keep coming).
* A candle CSV (Gate layout `open_time_ms,open,high,low,close,volume_contracts`, or `timestamp,...`):
  the synthetic generator's mid follows each candle O -> extreme -> extreme -> C over `steps_per_candle`
  steps, trades scale with the candle volume, and the rows before the replay start become the chart
  history of that timeframe. When the candles run out the generator carries on from the last price.

Both return a `SyntheticMarket`, so the server, the WS hub and the REST routes treat them alike.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import deque
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cashup_tui.adapters.sim.contracts import check_symbol, contract_spec
from cashup_tui.adapters.sim.market import SyntheticMarket
from cashup_tui.adapters.sim.market_values import INTERVALS, PricePath, StepResult
from cashup_tui.adapters.sim.symbol_market import SymbolMarket
from cashup_tui.domain.errors import DataError, ValidationError


def load_replay(
    path: str | Path, *, seed: int = 7, start_ms: int, tick_ms: int = 100, symbols: list[str] | None = None, **kw: Any
) -> SyntheticMarket:
    """A market source from a frames `.jsonl` capture or a candle `.csv`; DataError says what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"replay file {p} not found", hint="give a Gate frames .jsonl or a candle .csv")
    if p.suffix == ".jsonl":
        return FrameReplayMarket(p, start_ms=start_ms, tick_ms=tick_ms, seed=seed, symbols=symbols, **kw)
    if p.suffix == ".csv":
        return candle_replay_market(p, start_ms=start_ms, tick_ms=tick_ms, seed=seed, symbols=symbols, **kw)
    raise DataError(f"{p.name}: unknown replay format", hint="use a Gate frames .jsonl capture or a candle .csv")


# -- recorded frames ---------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError as exc:
                raise DataError(f"{path.name} line {n}: not JSON ({exc})", hint="one JSON object per line") from None
    return out


def _find_beside(path: Path, pattern: str) -> Path | None:
    hits = sorted(path.parent.glob(pattern))
    return hits[0] if hits else None


def _tick_from_prices(prices: list[str]) -> Decimal:
    decimals = max((len(p.split(".", 1)[1]) if "." in p else 0) for p in prices)
    return Decimal(1).scaleb(-decimals)


class ReplaySymbol(SymbolMarket):
    """A SymbolMarket whose book comes from a captured snapshot plus captured deltas."""

    def load(self, snapshot: dict[str, Any], updates: list[tuple[float, dict[str, Any]]], start_ms: int, speed: float) -> None:
        f = self.fmt
        self.bids = {f.to_ticks(x["p"]): int(Decimal(str(x["s"]))) for x in snapshot["bids"]}
        self.asks = {f.to_ticks(x["p"]): int(Decimal(str(x["s"]))) for x in snapshot["asks"]}
        self.book_id = int(snapshot["id"])
        self._refresh_views()
        self.prev_bid_view, self.prev_ask_view = self.bid_view, self.ask_view
        self.pending: deque[tuple[float, dict[str, Any]]] = deque(u for u in updates if u[1]["u"] > self.book_id)
        self.replay_start_ms = start_ms
        self.speed = speed
        self._sync_mid()
        self.mark = self.index = self.mid
        self.last = round(self.mid)

    def _sync_mid(self) -> None:
        if self.bid_view and self.ask_view:
            self.mid = (self.bid_view[0][0] + self.ask_view[0][0]) / 2

    def step(self, ts_ms: int) -> StepResult:
        self.ts_ms = ts_ms
        self.prev_bid_view, self.prev_ask_view = self.bid_view, self.ask_view
        elapsed = (ts_ms - self.replay_start_ms) / 1000 * self.speed
        first_id = None
        f = self.fmt
        while self.pending and self.pending[0][0] <= elapsed:
            _, upd = self.pending.popleft()
            if first_id is None:
                first_id = int(upd["U"])
            for side, key in ((self.bids, "b"), (self.asks, "a")):
                for lvl in upd.get(key, ()):
                    p, s = f.to_ticks(lvl["p"]), int(Decimal(str(lvl["s"])))
                    if s == 0:
                        side.pop(p, None)
                    else:
                        side[p] = s
            self.book_id = int(upd["u"])
        changed = first_id is not None
        if changed:
            self._refresh_views()
            self._sync_mid()
        self._roll_bars(ts_ms)
        self._update_marks()
        return StepResult(self.symbol, ts_ms, first_id if first_id is not None else self.book_id + 1, self.book_id, [], None, changed)

    @property
    def finished(self) -> bool:
        return not self.pending


class FrameReplayMarket(SyntheticMarket):
    """Replays a Gate frames capture (see the module docstring)."""

    def __init__(
        self,
        frames_path: Path,
        *,
        start_ms: int,
        tick_ms: int = 100,
        seed: int = 7,
        symbols: list[str] | None = None,
        snapshots_path: Path | None = None,
        contracts_path: Path | None = None,
        speed: float = 1.0,
        backfill: int = 500,
    ) -> None:
        self.seed, self.tick_ms = seed, tick_ms
        snapshots_path = snapshots_path or _find_beside(frames_path, "*rest_order_book_with_id*.jsonl")
        if snapshots_path is None:
            raise DataError(
                f"no REST snapshot file beside {frames_path.name}",
                hint="the replay needs the *_rest_order_book_with_id_*.jsonl capture in the same folder",
            )
        snaps = {row["symbol"]: row["body"] for row in _read_jsonl(snapshots_path) if "symbol" in row and "body" in row}
        updates: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        t0: float | None = None
        for row in _read_jsonl(frames_path):
            msg = row.get("msg") or {}
            if row.get("dir") != "in" or msg.get("channel") != "futures.order_book_update" or msg.get("event") != "update":
                continue
            res = msg.get("result") or {}
            if not {"s", "U", "u"} <= set(res):
                continue
            t0 = row["recv_ts"] if t0 is None else t0
            updates.setdefault(res["s"], []).append((row["recv_ts"] - t0, res))
        names = symbols if symbols else [s for s in snaps if s in updates]
        missing = [s for s in names if s not in snaps]
        if missing or not names:
            raise DataError(
                f"{frames_path.name}: no snapshot + book updates for {', '.join(missing) or 'any contract'}",
                hint=f"contracts in this capture: {', '.join(sorted(s for s in snaps if s in updates))}",
            )
        contracts_path = contracts_path or _find_beside(frames_path, "*rest_contracts*.json")
        real: dict[str, dict[str, Any]] = {}
        if contracts_path is not None:
            body = json.loads(contracts_path.read_text(encoding="utf-8"))
            real = {c["name"]: c for c in (body.get("body", body) if isinstance(body, dict) else body)}
        self.symbols = {}
        for s in names:
            snap = snaps[s]
            contract = dict(real[s]) if s in real else contract_spec(s)
            if s not in real:
                prices = [x["p"] for x in snap["bids"] + snap["asks"]]
                contract["order_price_round"] = contract["mark_price_round"] = format(_tick_from_prices(prices), "f")
            best_bid, best_ask = Decimal(snap["bids"][0]["p"]), Decimal(snap["asks"][0]["p"])
            sm = ReplaySymbol(
                s, seed, start_ms, contract=contract, tick_ms=tick_ms, backfill=backfill, start_price=float((best_bid + best_ask) / 2)
            )
            sm.load(snap, updates[s], start_ms, speed)
            self.symbols[s] = sm

    @property
    def finished(self) -> bool:
        return all(getattr(m, "finished", True) for m in self.symbols.values())


# -- candle CSV --------------------------------------------------------------------------------------------


def read_candles_csv(path: Path) -> list[tuple[int, float, float, float, float, float]]:
    """(open_ms, o, h, l, c, volume) rows; the first column is epoch ms or an ISO timestamp (UTC)."""
    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or len(header) < 5:
            raise DataError(f"{path.name}: expected a header like open_time_ms,open,high,low,close,volume")
        for n, rec in enumerate(reader, 2):
            if not rec:
                continue
            try:
                t_raw = rec[0].strip()
                if re.fullmatch(r"\d+", t_raw):
                    t = int(t_raw)
                else:
                    t = int(datetime.fromisoformat(t_raw).replace(tzinfo=UTC).timestamp() * 1000)
                o, h, lo, c = (float(x) for x in rec[1:5])
                v = float(rec[5]) if len(rec) > 5 and rec[5] else 0.0
            except ValueError as exc:
                raise DataError(f"{path.name} line {n}: {exc}", hint="columns: time, open, high, low, close[, volume]") from None
            if not all(math.isfinite(x) and x > 0 for x in (o, h, lo, c)) or lo > min(o, c) or h < max(o, c):
                raise DataError(f"{path.name} line {n}: impossible candle {rec[:5]}", hint="need 0 < low <= open,close <= high")
            rows.append((t, o, h, lo, c, v))
    if len(rows) < 2:
        raise DataError(f"{path.name}: needs at least 2 candles")
    return rows


class CandlePath(PricePath):
    """Mid path through candles: O -> low -> high -> C for up candles, O -> high -> low -> C for down ones."""

    def __init__(self, rows: list[tuple[int, float, float, float, float, float]], steps_per_candle: int = 10) -> None:
        self.rows = rows
        self.k = max(4, steps_per_candle)
        vols = sorted(r[5] for r in rows if r[5] > 0)
        self.median_v = vols[len(vols) // 2] if vols else 1.0
        self.i = 0
        self.j = 0

    def next_mid(self) -> tuple[float, float] | None:
        if self.i >= len(self.rows):
            return None
        _, o, h, lo, c, v = self.rows[self.i]
        pts = [o, lo, h, c] if c >= o else [o, h, lo, c]
        x = self.j / (self.k - 1) * 3
        seg = min(int(x), 2)
        frac = x - seg
        mid = pts[seg] + (pts[seg + 1] - pts[seg]) * frac
        self.j += 1
        if self.j >= self.k:
            self.j = 0
            self.i += 1
        weight = (v / self.median_v) if (v > 0 and self.median_v > 0) else 1.0
        return mid, max(0.1, min(weight, 10.0))


def _timeframe_of(path: Path, rows: list[tuple]) -> str | None:
    m = re.search(r"_(\d+[smhdw])_", path.name)
    if m and m.group(1) in INTERVALS:
        return m.group(1)
    step_s = (rows[1][0] - rows[0][0]) // 1000
    return next((iv for iv, s in INTERVALS.items() if s == step_s), None)


def candle_replay_market(
    path: Path,
    *,
    start_ms: int,
    tick_ms: int = 100,
    seed: int = 7,
    symbols: list[str] | None = None,
    steps_per_candle: int = 10,
    history: int = 500,
    backfill: int = 500,
) -> SyntheticMarket:
    rows = read_candles_csv(path)
    if symbols:
        if len(symbols) != 1:
            raise ValidationError("a candle CSV replays one symbol", hint="pass a single --symbols value")
        symbol = symbols[0]
    else:
        m = re.search(r"([A-Z0-9]+_USDT)", path.name)
        if not m:
            raise ValidationError(f"cannot tell the symbol of {path.name}", hint="pass --symbols BTC_USDT")
        symbol = m.group(1)
    check_symbol(symbol)
    n_hist = min(history, len(rows) - 1)
    hist, live = rows[:n_hist], rows[n_hist:]
    contract = contract_spec(symbol)
    tick = Decimal(contract["order_price_round"])
    tf = _timeframe_of(path, rows)
    hist_bars: dict[str, list[tuple]] = {}
    if tf is not None and hist:
        secs = INTERVALS[tf]
        qm = float(contract["quanto_multiplier"])
        start_bucket = (start_ms // 1000) - (start_ms // 1000) % secs
        shift = start_bucket - secs * len(hist) - hist[0][0] // 1000
        tk = float(tick)
        hist_bars[tf] = [
            (t // 1000 + shift, round(o / tk), round(h / tk), round(lo / tk), round(c / tk), int(v), v * qm * c)
            for t, o, h, lo, c, v in hist
        ]
    return SyntheticMarket(
        [symbol],
        seed=seed,
        start_ms=start_ms,
        tick_ms=tick_ms,
        contracts={symbol: contract},
        backfill=backfill,
        paths={symbol: CandlePath(live, steps_per_candle)},
        start_prices={symbol: live[0][1]},
        history={symbol: hist_bars},
    )
