"""`cashup optimize --objective SOURCE:FUNCTION`: a user's own objective (file, module or the
strategy file), shipped to worker processes as text, part of the study, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cashup_tui.engine.strategy import load_strategy
from tests.conftest import MARKET_DIR, need_shared

BTC_1H = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"

LOSSES = '''
def score(metrics):
    """Return per unit of drawdown; undefined without a drawdown."""
    dd = metrics["max_drawdown"]
    return None if not dd else metrics["total_return"] / dd


def broken(metrics):
    return metrics["no_such_key"]


def wordy(metrics):
    return "good"
'''


@pytest.fixture()
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    src = need_shared(MARKET_DIR / BTC_1H)
    data = tmp_path / "BTC_USDT_1h.csv"
    data.write_text("\n".join(src.read_text().splitlines()[:1201]) + "\n")
    from cashup_tui.cli.main import run

    def call(*args: str, strategy: str = "sma_cross", workers: str = "1") -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as e:
            run(["--db", str(tmp_path / "o.sqlite"), "optimize", strategy, "--data", str(data), "--grid",
                 "fast=5:20:5", "--grid", "slow=20:60:20", "--workers", workers, "--top", "100", *args])
        got = capsys.readouterr()
        return int(e.value.code or 0), got.out, got.err

    return call


def _score(m: dict) -> float | None:
    return None if not m["max_drawdown"] else m["total_return"] / m["max_drawdown"]


def test_a_user_objective_from_a_file_ranks_the_trials(cli, tmp_path: Path) -> None:
    losses = tmp_path / "losses.py"
    losses.write_text(LOSSES)
    code, out, err = cli("--objective", f"{losses}:score", "--json", workers="2")  # spawned workers compile it
    assert code == 0, err
    res = json.loads(out)
    assert res["evaluated"] == 11 and res["failed"] == 0
    for r in res["results"]:
        assert r["objective"] == pytest.approx(_score(r["metrics"]))
    assert res["best"]["objective"] == max(_score(r["metrics"]) for r in res["results"])
    code, out, _ = cli("--objective", f"{losses}:score", "--json")
    assert json.loads(out)["resumed"] == 11  # the same study
    losses.write_text(LOSSES.replace("/ dd", "/ dd / 2"))
    code, out, _ = cli("--objective", f"{losses}:score", "--json")
    again = json.loads(out)
    assert again["resumed"] == 0 and again["study"] != res["study"]  # an edited objective is a new study


def test_a_user_objective_in_the_strategy_file(cli, tmp_path: Path) -> None:
    strat = tmp_path / "my_cross.py"
    strat.write_text(Path(load_strategy("sma_cross").source_path).read_text() + LOSSES)
    code, out, err = cli("--objective", "strategy:score", "--json", strategy=str(strat))
    assert code == 0, err
    res = json.loads(out)
    assert all(r["objective"] == pytest.approx(_score(r["metrics"])) for r in res["results"])


def test_user_objective_errors_are_clear(cli, tmp_path: Path) -> None:
    losses = tmp_path / "losses.py"
    losses.write_text(LOSSES)
    code, _, err = cli("--objective", "nowhere.py:score")
    assert code == 2 and "file nowhere.py not found" in err
    code, _, err = cli("--objective", f"{losses}:scor")
    assert code == 2 and "has no function 'scor'" in err and "functions there: broken, score, wordy" in err
    code, _, err = cli("--objective", "no_such_module_xyz:score")
    assert code == 2 and "no Python module 'no_such_module_xyz' found" in err
    code, _, err = cli("--objective", f"{losses}:broken")
    assert code == 1 and "objective broken raised KeyError: 'no_such_key' at " in err and "losses.py:" in err
    code, _, err = cli("--objective", f"{losses}:wordy")
    assert code == 1 and "returned str 'good', not a number" in err
    assert "Traceback" not in err
