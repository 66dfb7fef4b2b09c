"""The strategy API: parameters, loading by name/path with suggestions, guarded signals, and the
event hooks of the examples agreeing with their vectorised signals."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cashup_tui.domain.errors import StrategyError, ValidationError
from cashup_tui.engine.backtest.data import load_csv
from cashup_tui.engine.strategy import (
    Bars,
    Param,
    Strategy,
    describe,
    discover,
    load_strategy,
    parse_params,
    run_signals,
)
from tests.conftest import MARKET_DIR, need_shared

EXAMPLES = ("sma_cross", "ema_cross", "rsi_reversion", "bollinger_breakout", "donchian_breakout", "macd_trend", "grid")


class Demo(Strategy):
    """A demo."""

    n = Param(5, min=2, max=10, help="length")
    k = Param(1.5, min=0.0, max=3.0)
    on = Param(True)
    mode = Param("a", choices=("a", "b"))


def test_params_coerce_validate_and_default() -> None:
    d = Demo(n="7", k="2", on="no", mode="b")
    assert d.params == {"n": 7, "k": 2.0, "on": False, "mode": "b"} and d.n == 7
    assert Demo().params == {"n": 5, "k": 1.5, "on": True, "mode": "a"}
    with pytest.raises(ValidationError, match="must be int"):
        Demo(n="7.5")
    with pytest.raises(ValidationError, match="out of range"):
        Demo(k=3.5)
    with pytest.raises(ValidationError, match="must be one of"):
        Demo(mode="c")
    with pytest.raises(ValidationError, match="must be float"):
        Demo(k="nan")
    with pytest.raises(ValidationError, match="did you mean 'mode'"):
        Demo(mdoe="a")
    assert parse_params(["a=1", " b = x "]) == {"a": "1", "b": "x"}
    with pytest.raises(ValidationError):
        parse_params(["=3"])


def test_every_example_loads_describes_and_is_documented() -> None:
    found = discover()
    for name in EXAMPLES:
        assert name in found
        cls = load_strategy(name)
        info = describe(cls)
        assert info["name"] == name and info["summary"] and info["params"]
        assert cls.__doc__ and Path(cls.source_path).read_text().startswith('"""')
        cls()  # defaults are valid


def test_unknown_names_suggest_close_matches(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as e:
        load_strategy("ema_cros")
    assert "did you mean ema_cross" in str(e.value)
    with pytest.raises(ValidationError, match="not found"):
        load_strategy(str(tmp_path / "missing.py"))
    two = tmp_path / "two.py"
    two.write_text("from cashup_tui.engine.strategy import Strategy\nclass A(Strategy): pass\nclass B(Strategy): pass\n")
    with pytest.raises(ValidationError, match="defines 2 Strategy subclasses"):
        load_strategy(str(two))
    err = tmp_path / "err.py"
    err.write_text("import numpy\nraise RuntimeError('bad import')\n")
    with pytest.raises(StrategyError, match=f"{err}:2: RuntimeError: bad import"):
        load_strategy(str(err))


def test_strategies_dir_env_and_load_by_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.py").write_text(
        "import numpy as np\nfrom cashup_tui.engine.strategy import Strategy\n"
        "class Mine(Strategy):\n    '''Always long.'''\n    def signals(self, bars):\n        return np.ones(len(bars))\n"
    )
    monkeypatch.setenv("CASHUP_STRATEGIES_DIR", str(tmp_path))
    cls = load_strategy("mine")
    assert cls.label() == "mine" and cls.source_path == str(tmp_path / "mine.py")


def test_run_signals_guards_shape_range_and_exceptions() -> None:
    b = Bars.from_arrays(np.arange(5), *([np.ones(5)] * 4))

    class Short(Strategy):
        def signals(self, bars):
            return np.ones(3)

    class Big(Strategy):
        def signals(self, bars):
            return np.full(len(bars), 2.0)

    class Raises(Strategy):
        def signals(self, bars):
            return {}["missing"]

    with pytest.raises(StrategyError, match="one value per bar"):
        run_signals(Short(), b)
    with pytest.raises(StrategyError, match="outside"):
        run_signals(Big(), b)
    with pytest.raises(StrategyError, match=r"KeyError: 'missing' at .*test_strategy.py:\d+"):
        run_signals(Raises(), b)


class Ctx:
    """A minimal StrategyContext recording targets per bar (what the event runner will provide)."""

    symbol = "BTC_USDT"
    allow_short = True
    equity = 10_000.0
    position = 0.0

    def __init__(self) -> None:
        self.last: float = math.nan

    def target(self, exposure: float) -> None:
        self.last = exposure

    def log(self, message: str) -> None:
        pass


@pytest.mark.parametrize("name,params", [("sma_cross", {}), ("ema_cross", {"fast": 5, "slow": 21}),
                                         ("rsi_reversion", {}), ("macd_trend", {})])
def test_event_hooks_give_the_vectorised_signals(name: str, params: dict) -> None:
    """on_bar (incremental for sma/ema, the default rolling recompute for the others) == signals()."""
    bars = load_csv(need_shared(MARKET_DIR / "gateio_usdt_perp_ETH_USDT_1h_2023-01-01_2023-09-22.csv"))[:1000]
    strat = load_strategy(name)(**params)
    vec = run_signals(strat, bars)
    ctx = Ctx()
    strat.on_start(ctx)
    got = []
    for bar in bars.iter_bars():
        ctx.last = math.nan
        strat.on_bar(ctx, bar)
        got.append(ctx.last)
    got = np.array(got)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(vec))
    assert np.array_equal(got[~np.isnan(got)], vec[~np.isnan(vec)])


def test_bars_frame_access() -> None:
    b = Bars.from_arrays([1, 2, 3], [1.0, 2, 3], [2.0, 3, 4], [0.5, 1, 2], [1.5, 2.5, 3.5], [10, 20, 30])
    assert len(b) == 3 and b["close"][1] == 2.5 and len(b[1:]) == 2
    assert b.bar(2).close == 3.5 and b.digest() == Bars.from_arrays(*(getattr(b, c) for c in Bars.COLUMNS)).digest()
    df = b.df
    assert list(df.columns) == list(Bars.COLUMNS) and df["volume"].sum() == 60
    with pytest.raises(KeyError):
        b["nope"]
