"""A sweep streams to the store: each batch is committed as soon as it finishes, before the next
one starts, so an interrupted sweep loses at most the batch in flight and the same command resumes.

The strategy itself looks at the store when each trial starts (and can raise Ctrl-C at a chosen
trial), so what is checked is the order of events, never timing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MARKET_DIR, need_shared

BTC_1H = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"

SPY = '''
import json, os, sqlite3

import numpy as np

from cashup_tui.engine.strategy import Bars, Param, Strategy


def _stored():
    if not os.path.exists({db!r}):
        return 0
    with sqlite3.connect("file:" + {db!r} + "?mode=ro", uri=True) as conn:
        try:
            return conn.execute("SELECT count(*) FROM opt_trials").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


class Spy(Strategy):
    """Notes how many trials the store holds when each trial starts; Ctrl-C at fast=6 if asked."""

    fast = Param(5, min=1, max=100, step=1)

    def warmup(self) -> int:
        return 1

    def signals(self, bars: Bars) -> np.ndarray:
        with open({seen!r}, "a") as f:
            f.write(json.dumps([self.fast, _stored()]) + "\\n")
        if self.fast == 6 and os.path.exists({stop!r}):
            os.remove({stop!r})
            raise KeyboardInterrupt
        out = np.full(len(bars), np.nan)
        out[:: self.fast * 3] = 1.0
        out[3 :: self.fast * 3] = -1.0
        return out
'''


def _stored(db: Path) -> list[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return [r[0] for r in conn.execute("SELECT params_hash FROM opt_trials")]


@pytest.fixture
def sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[[], tuple[int, str, str]]:
    src = need_shared(MARKET_DIR / BTC_1H)
    data = tmp_path / "BTC_USDT_1h.csv"
    data.write_text("\n".join(src.read_text().splitlines()[:401]) + "\n")
    strat = tmp_path / "spy.py"
    strat.write_text(SPY.format(db=str(tmp_path / "o.sqlite"), seen=str(tmp_path / "seen.jsonl"),
                                stop=str(tmp_path / "stop")))
    from cashup_tui.cli.main import run

    def call() -> tuple[int, str, str]:
        # 8 trials on one worker: 4 batches of 2 ([1, 2], [3, 4], [5, 6], [7, 8])
        with pytest.raises(SystemExit) as e:
            run(["--db", str(tmp_path / "o.sqlite"), "optimize", str(strat), "--data", str(data),
                 "--grid", "fast=1:8", "--workers", "1", "--objective", "return", "--json"])
        got = capsys.readouterr()
        return int(e.value.code or 0), got.out, got.err

    return call


def _seen(tmp_path: Path) -> list[list[int]]:
    return [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]


def test_each_batch_is_stored_before_the_next_one_runs(sweep: Callable[[], tuple[int, str, str]],
                                                       tmp_path: Path) -> None:
    code, out, err = sweep()
    assert code == 0, err
    assert json.loads(out)["batches"] == 4
    assert _seen(tmp_path) == [[1, 0], [2, 0], [3, 2], [4, 2], [5, 4], [6, 4], [7, 6], [8, 6]]
    assert len(set(_stored(tmp_path / "o.sqlite"))) == 8


def test_an_interrupted_sweep_keeps_its_finished_batches_and_resumes(
        sweep: Callable[[], tuple[int, str, str]], tmp_path: Path) -> None:
    (tmp_path / "stop").touch()  # Ctrl-C in the third batch, at fast=6 (after fast=5 has run)
    code, out, err = sweep()
    assert code == 130, err
    assert "interrupted: 4 trial(s) saved; run the same command to resume" in err
    assert json.loads(out)["interrupted"] is True
    assert len(_stored(tmp_path / "o.sqlite")) == 4  # the two finished batches; fast=5's batch was in flight
    code, out, err = sweep()  # the same study: only the unfinished trials run
    res = json.loads(out)
    assert code == 0, err
    assert (res["resumed"], res["evaluated"], res["failed"]) == (4, 4, 0)
    assert [f for f, _ in _seen(tmp_path)] == [1, 2, 3, 4, 5, 6, 5, 6, 7, 8]
    stored = _stored(tmp_path / "o.sqlite")
    assert len(stored) == len(set(stored)) == 8
