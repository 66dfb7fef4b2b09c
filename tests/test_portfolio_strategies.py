"""xsec_momentum and factor_score against pandas re-implementations of their docstrings (issue 15)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cashup_tui.domain.errors import ValidationError
from cashup_tui.engine.panel import Panel
from cashup_tui.engine.strategy import load_strategy
from tests.test_portfolio_engine import T0, H, synth
from tests.test_portfolio_funding import _funded


def _hold(rows: pd.DataFrame, at: list[int]) -> np.ndarray:
    """Rows on the rebalance bars, carried forward; 0 before the first."""
    out = pd.DataFrame(np.nan, index=rows.index, columns=rows.columns)
    out.iloc[at] = rows.iloc[at]
    return out.ffill().fillna(0.0).to_numpy()


def xsec_pandas(panel: Panel, lookback: int, top: int, short: bool, every: int) -> np.ndarray:
    close = panel.frame("close")
    ret = close / close.shift(lookback) - 1.0
    at = list(range(lookback, len(panel), every))
    rank = ret.rank(axis=1, ascending=False, method="first")  # 1 = best; ties: first listed
    leg = 0.5 / top if short else 1.0 / top
    w = (rank <= top) * leg
    if short:
        w = w - (rank > len(panel.symbols) - top) * leg
    return _hold(w.astype(float), at)


def factor_pandas(panel: Panel, lookback: int, vol_window: int, mw: float, vw: float, short: bool,
                  every: int, fw: float = 0.0, funding_window: int = 24) -> np.ndarray:
    close = panel.frame("close")
    mom = close / close.shift(lookback) - 1.0
    vol = (close / close.shift(1) - 1.0).rolling(vol_window).std(ddof=0)
    paid = pd.DataFrame(panel.funding if panel.funding is not None else 0.0, index=close.index,
                        columns=close.columns).rolling(funding_window).sum()

    def z(df: pd.DataFrame) -> pd.DataFrame:
        sd = df.std(axis=1, ddof=0)
        sd = sd.where(sd > 1e-12 * df.abs().max(axis=1))
        return df.sub(df.mean(axis=1), axis=0).div(sd, axis=0).fillna(0.0)

    score = mw * z(mom) + vw * z(vol) + (fw * z(paid) if fw else 0.0)
    if not short:
        score = score.clip(lower=0.0)
    gross = score.abs().sum(axis=1)
    w = score.div(gross.where(gross > 0), axis=0).fillna(0.0)
    return _hold(w, list(range(max(lookback, vol_window, funding_window if fw else 0), len(panel), every)))


@pytest.mark.parametrize("params", [
    {}, {"top": 2, "lookback": 5, "rebalance_every": 3}, {"top": 2, "short": True, "lookback": 48},
    {"top": 1, "short": True, "rebalance_every": 1, "lookback": 1},
])
def test_xsec_momentum_matches_pandas(params: dict) -> None:
    panel = synth(n=300, k=5, seed=11)
    s = load_strategy("xsec_momentum")(**params)
    p = s.params
    got = s.weights(panel)
    assert np.array_equal(got, xsec_pandas(panel, p["lookback"], p["top"], p["short"], p["rebalance_every"]))
    assert np.array_equal(s.rebalance(panel), np.isin(np.arange(300), range(p["lookback"], 300, p["rebalance_every"])))
    live = got[p["lookback"]:]
    assert np.allclose(live.sum(axis=1), 0.0 if p["short"] else 1.0) and np.allclose(np.abs(live).sum(axis=1), 1.0)


def test_xsec_momentum_ties_go_to_the_symbol_listed_first() -> None:
    p = synth(n=60, k=4, seed=2)
    c = p.close.copy()
    c[:, 1] = c[:, 0]  # S0 and S1 always tie
    c[:, 3] = c[:, 2]
    panel = Panel(p.time_ms, p.symbols, p.open, p.high, p.low, c, p.volume, "1h", H)
    for params in ({"top": 1}, {"top": 1, "short": True}, {"top": 2, "short": True}):
        s = load_strategy("xsec_momentum")(lookback=6, rebalance_every=4, **params)
        pp = s.params
        assert np.array_equal(s.weights(panel), xsec_pandas(panel, 6, pp["top"], pp["short"], 4))


@pytest.mark.parametrize("params", [
    {}, {"short": True, "lookback": 12, "vol_window": 30, "rebalance_every": 7},
    {"mom_weight": 0.0, "vol_weight": 1.0, "rebalance_every": 1}, {"mom_weight": -2.0, "vol_weight": 0.5, "short": True},
])
def test_factor_score_matches_pandas(params: dict) -> None:
    panel = synth(n=300, k=6, seed=5)
    s = load_strategy("factor_score")(**params)
    p = s.params
    want = factor_pandas(panel, p["lookback"], p["vol_window"], p["mom_weight"], p["vol_weight"], p["short"],
                         p["rebalance_every"])
    got = s.weights(panel)
    assert np.allclose(got, want, rtol=0, atol=1e-9)
    assert (got != 0).any() and np.all(np.abs(got).sum(axis=1) <= 1 + 1e-12)
    if not p["short"]:
        assert (got >= 0).all()


def test_factor_score_flat_when_every_symbol_is_equal() -> None:
    n = 80
    c = np.tile(100 * np.exp(np.linspace(0, 0.1, n))[:, None], (1, 3))
    panel = Panel(T0 + np.arange(n, dtype=np.int64) * H, ("A", "B", "C"), c, c, c, c, np.ones((n, 3)), "1h", H)
    assert not load_strategy("factor_score")().weights(panel).any()


@pytest.mark.parametrize("params", [
    {"funding_weight": -1.0}, {"funding_weight": 2.0, "funding_window": 40, "short": True},
    {"funding_weight": -0.5, "funding_window": 8, "mom_weight": 0.0, "vol_weight": 0.0, "rebalance_every": 3},
])
def test_factor_score_funding_factor_matches_pandas(params: dict) -> None:
    panel = _funded(synth(n=300, k=5, seed=8), seed=8, every=8)
    s = load_strategy("factor_score")(**params)
    p = s.params
    want = factor_pandas(panel, p["lookback"], p["vol_window"], p["mom_weight"], p["vol_weight"], p["short"],
                         p["rebalance_every"], p["funding_weight"], p["funding_window"])
    got = s.weights(panel)
    assert np.allclose(got, want, rtol=0, atol=1e-9) and (got != 0).any()
    plain = load_strategy("factor_score")(**{**params, "funding_weight": 0.0})
    assert not np.allclose(got, plain.weights(panel))  # the factor moved the weights


# factor_score before the funding factor (momentum and volatility only), as shipped until then
BEFORE = """
import numpy as np
from cashup_tui.engine.panel import Panel, PortfolioStrategy, every, hold
from cashup_tui.engine.strategy import Param
from strategies.factor_score import _z

class Before(PortfolioStrategy):
    lookback = Param(24, min=1)
    vol_window = Param(24, min=2)
    mom_weight = Param(1.0)
    vol_weight = Param(-0.5)
    short = Param(False)
    rebalance_every = Param(24, min=1)

    def warmup(self):
        return max(self.lookback, self.vol_window) + 1

    def rebalance(self, panel):
        return every(len(panel), max(self.lookback, self.vol_window), self.rebalance_every)

    def weights(self, panel):
        n, k = panel.shape
        c = panel.close
        mask = self.rebalance(panel)
        at = np.flatnonzero(mask)
        mom = c[at] / c[at - self.lookback] - 1.0
        r1 = np.zeros((n, k))
        r1[1:] = c[1:] / c[:-1] - 1.0
        win = np.lib.stride_tricks.sliding_window_view(r1, self.vol_window, axis=0)
        vol = win[at - self.vol_window + 1].std(axis=2)
        score = self.mom_weight * _z(mom) + self.vol_weight * _z(vol)
        if not self.short:
            score = np.maximum(score, 0.0)
        gross = np.abs(score).sum(axis=1, keepdims=True)
        picked = np.where(gross > 0, score / np.where(gross > 0, gross, 1.0), 0.0)
        rows = np.zeros((n, k))
        rows[at] = picked
        return hold(rows, mask)
"""


def test_factor_score_funding_weight_zero_changes_nothing_and_needs_no_rates(tmp_path) -> None:
    (tmp_path / "before.py").write_text(BEFORE)
    before = load_strategy(str(tmp_path / "before.py"))
    panel = synth(n=200, k=4, seed=9)
    funded = _funded(panel, seed=9)
    for kw in ({}, {"funding_window": 150}, {"short": True, "funding_window": 3, "vol_window": 10}):
        s = load_strategy("factor_score")(**kw)
        old = before(**{k: v for k, v in kw.items() if k != "funding_window"})
        assert np.array_equal(s.weights(panel), s.weights(funded))
        assert np.array_equal(s.weights(panel), old.weights(panel))  # bit for bit: today's results stay
        assert s.warmup() == old.warmup() and np.array_equal(s.rebalance(panel), old.rebalance(panel))
    with pytest.raises(ValidationError, match="funding_weight needs funding rates"):
        load_strategy("factor_score")(funding_weight=1.0).weights(panel)


def test_factor_score_equal_funding_is_no_spread() -> None:
    panel = synth(n=120, k=3, seed=4)
    rates = np.zeros((120, 3))
    rates[::8] = 1e-4  # every symbol pays the same: the factor must add nothing
    s = load_strategy("factor_score")(funding_weight=-3.0, funding_window=16)
    base = load_strategy("factor_score")(funding_window=16)
    from dataclasses import replace

    got = s.weights(replace(panel, funding=rates))
    assert np.array_equal(got[s.warmup():], base.weights(panel)[s.warmup():])
