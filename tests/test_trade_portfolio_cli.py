"""`cashup trade --symbols`: a portfolio strategy runs headless on several symbols; the wrong symbol option
for a strategy is one clean line and exit 2."""

from __future__ import annotations

import json

import pytest

from tests.test_runtime_cli import cashup

pytestmark = pytest.mark.timeout(60)
SYMS = "BTC_USDT,ETH_USDT,SOL_USDT"


@pytest.mark.parametrize(("args", "needle"), [
    (("--strategy", "xsec_momentum"), "xsec_momentum is a portfolio strategy: it trades several symbols"),
    (("--strategy", "xsec_momentum", "--symbol", "BTC_USDT"), "xsec_momentum is a portfolio strategy"),
    (("--strategy", "sma_cross", "--symbols", "BTC_USDT,ETH_USDT"), "sma_cross trades one symbol: got BTC_USDT,ETH_USDT"),
    (("--strategy", "sma_cross"), "sma_cross trades one symbol: none given"),
    (("--strategy", "xsec_momentum", "--symbols", "BTC_USDT,btc_usdt"), "BTC_USDT listed twice"),
    (("--strategy", "xsec_momentum", "--symbols", SYMS, "--symbol", "BTC_USDT"), "not both"),
])
def test_the_wrong_symbol_option_exits_2_saying_what_to_pass(capsys: pytest.CaptureFixture[str],
                                                             args: tuple[str, ...], needle: str) -> None:
    rc, out, err = cashup(capsys, "trade", *args)
    assert rc == 2 and needle in err and "hint:" in err and "Traceback" not in out + err, (rc, out, err)


def test_a_portfolio_strategy_runs_headless_on_three_symbols(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = cashup(capsys, "trade", "--strategy", "xsec_momentum", "--symbols", SYMS, "--duration", "1",
                          "--notional", "3000", "--param", "top=1", "--param", "lookback=5", "--warmup", "30",
                          "--status-every", "0", "--json")
    assert rc == 0, err
    summary = json.loads(out)
    st = summary["strategy"]
    assert st["name"] == "xsec_momentum-BTC_USDT+2" and st["symbols"] == SYMS.split(",") and st["error"] == ""
    assert [x["symbol"] for x in st["legs"]] == SYMS.split(",") and set(summary["positions"]) == set(SYMS.split(","))
    assert {"target_weight", "weight", "target", "position", "net_pnl"} <= set(st["legs"][0])
    assert "running on BTC_USDT,ETH_USDT,SOL_USDT 1m (30 warm-up bars)" in err


def test_a_strategy_that_cannot_run_on_its_symbols_fails_at_start_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    """top=3 needs 3 symbols: the warm-up bars show it before the first live bar (an hour away on 1h), and
    a failed strategy ends the process (exit 1, no --duration) so a supervisor sees it."""
    rc, out, err = cashup(capsys, "trade", "--strategy", "xsec_momentum", "--symbols", "BTC_USDT,ETH_USDT",
                          "--timeframe", "1h", "--param", "top=3", "--warmup", "30", "--status-every", "0")
    assert rc == 1, (out, err)
    assert "top=3 needs 3 symbols, the panel has 2" in err and "state failed" in out and "Traceback" not in out + err
    assert "0 orders" in out
