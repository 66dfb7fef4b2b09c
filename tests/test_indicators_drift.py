"""The vectorised EMA / Wilder smoothing stays on the exact (incremental) value over long series:
the block recurrence runs on x - seed, so a constant input gives the constant back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from cashup_tui.engine import indicators as ind
from cashup_tui.engine.backtest.data import load_csv
from tests.conftest import MARKET_DIR, need_shared

N = 60_000


def incremental(cls, x: np.ndarray, n: int) -> np.ndarray:
    s = cls(n)
    return np.array([s.update(float(v)) for v in x])


CASES = [(ind.ema, ind.EMA, 20_000), (ind.ema, ind.EMA, 5_000), (ind.ema, ind.EMA, 14), (ind.wilder, ind.Wilder, 20_000),
         (ind.wilder, ind.Wilder, 14)]
IDS = [f"{f.__name__}-{n}" for f, _, n in CASES]


@pytest.mark.parametrize("fn,cls,n", CASES, ids=IDS)
def test_constant_input_gives_the_constant(fn, cls, n) -> None:
    """Was 2.2e-8 off at period 20000 (4.4e-9 at 5000) on a BTC-sized constant."""
    x = np.full(N, 43_210.5)  # its sums are exact: the mean seed is the constant itself
    got = fn(x, n)
    np.testing.assert_allclose(got[n - 1:], incremental(cls, x, n)[n - 1:], rtol=0, atol=1e-12)


@pytest.mark.parametrize("fn,cls,n", CASES, ids=IDS)
def test_real_closes_match_the_incremental_form(fn, cls, n) -> None:
    b = load_csv(need_shared(MARKET_DIR / "gateio_usdt_perp_BTC_USDT_5m_2023-01-01_2023-09-22.csv"))
    x = b.close[:N]
    assert x.size == N
    np.testing.assert_allclose(fn(x, n)[n - 1:], incremental(cls, x, n)[n - 1:], rtol=2.5e-13, atol=0)
