"""Property tests of the local book against a plain dict model, plus the §7A sync rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.adapters.gateio.book import (
    APPLIED,
    BUFFERED,
    CROSSED,
    GAP,
    SNAPSHOT_BEHIND,
    STALE,
    SYNCED,
    BookDelta,
    Level,
    OrderBook,
)

sizes = st.sampled_from([0.0, 0.0, 1.0, 2.5, 10.0, 7.0, 300.0])
bid_px = st.integers(min_value=1, max_value=40).map(lambda k: k * 0.5)  # 0.5 .. 20.0
ask_px = st.integers(min_value=41, max_value=80).map(lambda k: k * 0.5)  # 20.5 .. 40.0
any_px = st.integers(min_value=1, max_value=80).map(lambda k: k * 0.5)


def levels(px: st.SearchStrategy[float]) -> st.SearchStrategy[list[Level]]:
    return st.lists(st.tuples(px, sizes).map(lambda t: Level(t[0], t[1])), max_size=6)


def snap_levels(px: st.SearchStrategy[float]) -> st.SearchStrategy[list[Level]]:
    """A REST snapshot: unique prices, positive sizes."""
    lv = st.tuples(px, sizes.filter(lambda s: s > 0)).map(lambda t: Level(t[0], t[1]))
    return st.lists(lv, max_size=8, unique_by=lambda lv: lv.p)


def apply_model(model: dict[float, float], lv: list[Level]) -> None:
    for x in lv:
        if x.s == 0:
            model.pop(x.p, None)
        else:
            model[x.p] = x.s


@settings(max_examples=200, deadline=None)
@given(snap_levels(bid_px), snap_levels(ask_px), st.lists(st.tuples(levels(bid_px), levels(ask_px)), max_size=40))
def test_book_matches_a_dict_model(snap_b, snap_a, deltas) -> None:
    book = OrderBook("X", depth=1000)
    mb: dict[float, float] = {}
    ma: dict[float, float] = {}
    apply_model(mb, snap_b)
    apply_model(ma, snap_a)
    assert book.apply_snapshot(100, snap_b, snap_a) == SYNCED
    uid = 100
    for b, a in deltas:
        uid += 1
        assert book.on_delta(BookDelta("X", uid, uid, uid, b, a)) == APPLIED
        apply_model(mb, b)
        apply_model(ma, a)
        assert book.best_bid() == ((max(mb), mb[max(mb)]) if mb else None)
        assert book.best_ask() == ((min(ma), ma[min(ma)]) if ma else None)
        assert book.levels("bids") == sorted(mb.items(), reverse=True)
        assert book.levels("asks") == sorted(ma.items())
        assert book.last_id == uid
    snap = book.snapshot()
    assert snap is not None and len(snap.bids) == len(mb) and len(snap.asks) == len(ma)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(levels(any_px), levels(any_px)), min_size=1, max_size=40))
def test_a_synced_book_is_never_crossed(deltas) -> None:
    """Random overlapping updates: whenever the model would cross, the book goes out of sync
    (CROSSED) instead of serving it; whenever the book is in sync it is not crossed."""
    book = OrderBook("X", depth=1000)
    book.apply_snapshot(1, [], [])
    mb: dict[float, float] = {}
    ma: dict[float, float] = {}
    uid = 1
    for b, a in deltas:
        uid += 1
        result = book.on_delta(BookDelta("X", uid, uid, uid, b, a))
        apply_model(mb, b)
        apply_model(ma, a)
        crossed = bool(mb and ma and max(mb) >= min(ma))
        if crossed:
            assert result == CROSSED and book.snapshot() is None and book.best_bid() is None
            return
        assert result == APPLIED
        bb, ba = book.best_bid(), book.best_ask()
        assert not (bb and ba and bb[0] >= ba[0])


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=2, max_value=1000), levels(bid_px), levels(ask_px))
def test_any_gap_takes_the_book_out_of_sync(skip: int, b, a) -> None:
    book = OrderBook("X")
    book.apply_snapshot(10, [Level(1.0, 1.0)], [Level(30.0, 1.0)])
    assert book.on_delta(BookDelta("X", 0, 11, 11, [], [])) == APPLIED  # empty deltas still advance the id
    assert book.on_delta(BookDelta("X", 0, 11 + skip, 12 + skip, b, a)) == GAP
    assert not book.synced and book.snapshot() is None and book.levels("bids") == [] and book.gaps == 1
    # the gap delta starts the new buffer; a snapshot that covers it resyncs
    assert book.apply_snapshot(11 + skip, [Level(2.0, 1.0)], [Level(31.0, 1.0)]) == SYNCED
    assert book.resyncs == 1 and book.last_id == 12 + skip


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=5))
def test_stale_updates_are_ignored(back: int) -> None:
    book = OrderBook("X")
    book.apply_snapshot(10, [Level(1.0, 1.0)], [Level(3.0, 1.0)])
    book.on_delta(BookDelta("X", 0, 11, 11, [Level(1.5, 2.0)], []))
    assert book.on_delta(BookDelta("X", 0, 11 - back, 11 - back, [Level(2.9, 9.0)], [])) == STALE
    assert book.best_bid() == (1.5, 2.0)


def test_recipe_buffer_drop_straddle_and_behind() -> None:
    book = OrderBook("X")
    for u in (5, 6, 7, 8):
        assert book.on_delta(BookDelta("X", 0, u, u, [Level(1.0, float(u))], [])) == BUFFERED
    # snapshot behind the first buffered update -> fetch again, nothing served
    assert book.apply_snapshot(2, [Level(1.0, 1.0)], [Level(2.0, 1.0)]) == SNAPSHOT_BEHIND
    assert book.snapshot() is None
    # snapshot at 6: 5 and 6 dropped, 7 (U <= 7 <= u) and 8 replayed
    assert book.apply_snapshot(6, [Level(1.0, 1.0)], [Level(2.0, 1.0)]) == SYNCED
    assert book.dropped_on_sync == 2 and book.replayed_on_sync == 2
    assert book.best_bid() == (1.0, 8.0) and book.last_id == 8


def test_straddling_first_update_after_snapshot() -> None:
    book = OrderBook("X")
    assert book.apply_snapshot(100, [Level(1.0, 1.0)], [Level(2.0, 1.0)]) == SYNCED
    assert book.on_delta(BookDelta("X", 0, 95, 104, [Level(1.5, 3.0)], [])) == APPLIED  # U <= 101 <= u
    assert book.on_delta(BookDelta("X", 0, 100, 104, [], [])) == STALE  # u <= last: already covered
    assert book.on_delta(BookDelta("X", 0, 105, 106, [], [])) == APPLIED  # strict chain afterwards
    assert book.best_bid() == (1.5, 3.0)
    # after the first update an overlap is not accepted: U must be exactly last+1
    assert book.on_delta(BookDelta("X", 0, 106, 108, [], [])) == GAP and not book.synced


def test_buffer_chain_break_restarts_the_buffer() -> None:
    book = OrderBook("X")
    book.on_delta(BookDelta("X", 0, 1, 1, [], []))
    book.on_delta(BookDelta("X", 0, 5, 5, [], []))  # gap inside the buffer
    assert book.buffered == 1 and book.gaps == 1
    assert book.apply_snapshot(4, [Level(1.0, 1.0)], [Level(2.0, 1.0)]) == SYNCED and book.last_id == 5


def test_trim_to_depth_and_exact_price_text() -> None:
    book = OrderBook("X", depth=3)
    bids = [Level(float(p), 1.0) for p in range(1, 10)]
    asks = [Level(float(p), 1.0) for p in range(20, 30)]
    book.apply_snapshot(1, bids, asks)
    assert [p for p, _ in book.levels("bids")] == [9.0, 8.0, 7.0]
    assert [p for p, _ in book.levels("asks")] == [20.0, 21.0, 22.0]
    snap = book.snapshot()
    assert snap is not None and str(snap.bids[0].price) == "9.0" and str(snap.asks[0].price) == "20.0"
    assert book.on_delta(BookDelta("X", 0, 2, 2, [Level(9.5, 2.0)], [Level(19.5, 1.0)])) == APPLIED
    assert [p for p, _ in book.levels("bids")] == [9.5, 9.0, 8.0]
    assert book.price_text(9.5) == "9.5" and book.price_text(0.2983) == "0.2983"


def test_full_frame_replaces_the_book() -> None:
    book = OrderBook("X")
    assert book.on_delta(BookDelta("X", 0, 0, 50, [Level(1.0, 1.0)], [Level(2.0, 1.0)], full=True)) == APPLIED
    assert book.synced and book.last_id == 50
    assert book.on_delta(BookDelta("X", 0, 51, 51, [Level(1.0, 0.0)], [])) == APPLIED
    assert book.best_bid() is None and book.best_ask() == (2.0, 1.0)


def test_snapshot_is_cached_until_the_book_moves() -> None:
    book = OrderBook("X")
    book.apply_snapshot(1, [Level(1.0, 1.0)], [Level(2.0, 1.0)])
    a = book.snapshot()
    assert a is not None and book.snapshot() is a
    book.on_delta(BookDelta("X", 0, 2, 2, [Level(1.5, 4.0)], []))
    b = book.snapshot()
    assert b is not a and b is not None and b.update_id == 2 and str(b.bids[0].price) == "1.5"
    book.invalidate("test")
    assert book.snapshot() is None
