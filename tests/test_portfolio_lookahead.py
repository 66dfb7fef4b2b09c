"""`cashup backtest lookahead` on portfolio strategies (issue 15): the panel cut at random bars (or every
bar) must give the same weights rows; a planted peek is caught naming the bar and the symbol."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cashup_tui.engine.backtest.panel_lookahead import check_panel, cut_points
from cashup_tui.engine.strategy import load_strategy
from tests.test_backtest_cli import cli  # noqa: F401 (fixture)
from tests.test_backtest_portfolio_cli import _data, three  # noqa: F401 (fixture)
from tests.test_portfolio_engine import synth

PEEK = '''
import numpy as np
from cashup_tui.engine.panel import PortfolioStrategy

class Peek(PortfolioStrategy):
    """Holds the first symbol; the second one's weight looks at the NEXT bar's close."""
    def warmup(self):
        return 1

    def weights(self, panel):
        c = panel.close
        w = np.zeros(panel.shape)
        w[:, 0] = 0.25
        nxt = np.r_[c[1:, 1], np.nan]
        w[:, 1] = np.where(np.isnan(nxt), 0.0, 0.25 + 0.25 * (nxt > c[:, 1]))
        return w
'''

HONEST_4H = '''
import numpy as np
from cashup_tui.engine.panel import PortfolioStrategy

class Higher(PortfolioStrategy):
    """Long the symbols whose last closed 4h bar rose (a higher timeframe, aligned without look-ahead)."""
    informative = ("4h",)

    def warmup(self):
        return 8

    def weights(self, panel):
        h = panel.higher["4h"]
        up = np.nan_to_num((h.close > h.open).astype(float) * np.isfinite(h.close))
        return up / panel.shape[1]
'''


def _load(tmp_path: Path, name: str, text: str):
    p = tmp_path / f"{name}.py"
    p.write_text(text)
    return load_strategy(str(p))(), p


def test_a_planted_peek_is_caught_with_its_bar_and_symbol(tmp_path: Path) -> None:
    panel = synth(n=300, k=3)
    strat, _ = _load(tmp_path, "peek", PEEK)
    rep = check_panel(strat, panel, cuts=12, seed=3)
    assert not rep.clean and rep.changed_cuts == 12 and len(rep.cuts) == 12
    first = rep.changes[0]
    assert first.bar == first.cut and first.symbol == "S1_USDT" and first.truncated == 0.0
    assert {c.symbol for c in rep.changes} == {"S1_USDT"}  # the honest first column never moves
    d = rep.as_dict()
    assert d["changes"][0]["symbol"] == "S1_USDT" and d["mode"] == "sampled"


def test_the_shipped_strategies_and_higher_timeframes_pass_every_cut(tmp_path: Path) -> None:
    panel = synth(n=160, k=4)
    higher, _ = _load(tmp_path, "higher", HONEST_4H)
    for strat in (load_strategy("xsec_momentum")(lookback=10, rebalance_every=7),
                  load_strategy("factor_score")(lookback=9, vol_window=6, rebalance_every=5, short=True),
                  higher):
        rep = check_panel(strat, panel, cuts=None)
        assert rep.clean and rep.exhaustive, (strat.label(), rep.as_dict(limit=3))


def test_cut_points_are_random_seeded_and_distinct() -> None:
    a, b, c = cut_points(10, 500, 20, 7), cut_points(10, 500, 20, 7), cut_points(10, 500, 20, 8)
    assert a == b and a != c and len(set(a)) == 20 and a == sorted(a) and min(a) >= 10 and max(a) <= 498
    assert a != [int(x) for x in np.linspace(10, 498, 20)]  # not the evenly spaced cuts of one symbol
    assert cut_points(10, 15, 20, 7) == [10, 11, 12, 13] == cut_points(10, 15, None, 7)


def test_cli_catches_the_peek_and_passes_the_shipped_ones(three: list[str], cli, tmp_path: Path) -> None:  # noqa: F811
    _, path = _load(tmp_path, "peek", PEEK)
    r = cli("backtest", "lookahead", str(path), *_data(three), "--cuts", "5", "--json", db=tmp_path / "d.sqlite")
    assert r.returncode == 1, r.stderr
    rep = json.loads(r.stdout)
    assert rep["changed_cuts"] == 5 and rep["changes"][0]["symbol"] == "ETH_USDT"
    assert rep["changes"][0]["bar"] == rep["changes"][0]["cut"]
    r = cli("backtest", "lookahead", str(path), *_data(three), "--cuts", "3", db=tmp_path / "d.sqlite")
    assert r.returncode == 1 and "ETH_USDT" in r.stdout and "symbol" in r.stdout
    for name in ("xsec_momentum", "factor_score"):
        r = cli("backtest", "lookahead", name, *_data(three), "--param", "lookback=12", db=tmp_path / "d.sqlite")
        assert r.returncode == 0 and "no look-ahead" in r.stdout, (name, r.stdout, r.stderr)
    r = cli("backtest", "lookahead", "xsec_momentum", *_data(three[:1]), db=tmp_path / "d.sqlite")
    assert r.returncode == 1 and "give at least two symbols" in r.stderr, r.stderr
    r = cli("backtest", "lookahead", "sma_cross", *_data(three[:2]), db=tmp_path / "d.sqlite")
    assert r.returncode == 2 and "trades one symbol" in r.stderr, r.stderr
