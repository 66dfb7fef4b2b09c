"""Backtesting and optimising are profile actions (service/roles.py): a viewer may do neither, in the CLI or
with the workstation's `B`; a developer may, and the attempt is in the audit log either way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cashup_tui.runtime import build_node
from cashup_tui.service.roles import PermissionDenied
from cashup_tui.service.workstation import EngineWorkstation
from cashup_tui.settings import load_settings
from tests.conftest import MARKET_DIR, need_shared
from tests.test_runtime_cli import cashup

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def btc(tmp_path: Path) -> Path:
    p = tmp_path / "btc.csv"
    p.write_text("\n".join(need_shared(MARKET_DIR / "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv")
                           .read_text().splitlines()[:401]) + "\n")
    return p


def test_a_viewer_may_not_backtest_or_optimise_a_developer_may(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, btc: Path) -> None:
    monkeypatch.setenv("CASHUP_UI_PROFILE", "viewer")
    rc, out, err = cashup(capsys, "backtest", "run", "sma_cross", "--data", str(btc), "--json")
    assert rc == 1 and "the viewer profile may not backtest (needs developer)" in err and out == "", err
    assert 'ui.profile = "developer"' in err and "Traceback" not in err
    rc, out, err = cashup(capsys, "optimize", "sma_cross", "--data", str(btc), "--grid", "fast=5:10:5")
    assert rc == 1 and "the viewer profile may not optimize (needs developer)" in err, err
    rc, out, err = cashup(capsys, "backtest", "list", "--json")
    assert rc == 0 and json.loads(out)["runs"] == [], err  # looking stays open; nothing was run
    monkeypatch.setenv("CASHUP_UI_PROFILE", "developer")
    rc, out, err = cashup(capsys, "backtest", "run", "sma_cross", "--data", str(btc), "--json")
    assert rc == 0, err
    rc, out, err = cashup(capsys, "audit", "--mode", "demo", "--json")
    rows = [(r["actor"], r["action"], r["outcome"]) for r in json.loads(out)["audit"]]
    assert ("cli:viewer", "backtest.run", "denied") in rows and ("cli:viewer", "optimize.run", "denied") in rows
    assert ("cli:developer", "backtest.run", "allowed") in rows


async def test_the_workstations_backtest_asks_the_profile(tmp_path: Path) -> None:
    node = build_node(load_settings(environ={"CASHUP_UI_PROFILE": "viewer"}), "demo",
                      db_url=str(tmp_path / "v.sqlite"), symbols=["BTC_USDT"])
    ws = EngineWorkstation(node)
    with pytest.raises(PermissionDenied, match="the viewer profile may not backtest"):
        await ws.backtest("sma_cross", "BTC_USDT", {})  # refused before any candle is fetched
    node.journal.store.close()
