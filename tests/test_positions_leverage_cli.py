"""`cashup positions leverage SYMBOL N [--margin cross|isolated]` against `cashup sim serve` in its own
process (testnet mode, made-up keys): the venue's leverage and margin mode change and `positions --sync`
shows them; bad input and venue refusals are clear errors."""

from __future__ import annotations

import json

import pytest

from tests.test_runtime_cli import cashup
from tests.test_runtime_cli_sim import serve_sim

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def small_account(monkeypatch: pytest.MonkeyPatch):
    yield from serve_sim(monkeypatch, "--balance", "1000")


def test_leverage_and_margin_mode_at_the_venue(capsys: pytest.CaptureFixture[str], small_account) -> None:
    rc, out, err = cashup(capsys, "positions", "leverage", "BTC_USDT", "5", "--mode", "testnet", "--json")
    assert rc == 0, err
    got = json.loads(out)
    assert (got["leverage"], got["margin_mode"]) == ("5", "isolated")
    rc, out, err = cashup(capsys, "positions", "leverage", "btc_usdt", "8", "--margin", "cross", "--mode", "testnet")
    assert rc == 0 and "BTC_USDT leverage 8x cross" in out, err
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "100", "--type", "market", "--mode", "testnet")
    assert rc == 0, err
    # --sync shows the venue's leverage and mode (cross 8x), not the engine's default 10x
    rc, out, err = cashup(capsys, "positions", "--sync", "--mode", "testnet", "--json")
    synced = json.loads(out)["positions"][0]
    assert rc == 0 and (synced["leverage"], synced["margin_mode"]) == ("8", "cross"), (synced, err)
    rc, out, err = cashup(capsys, "positions", "--sync", "--mode", "testnet")
    assert rc == 0 and " C8x " in out, out
    # no --margin: the mode stays cross; the venue's margin follows the limit
    rc, out, err = cashup(capsys, "positions", "leverage", "BTC_USDT", "4", "--mode", "testnet", "--json")
    assert rc == 0, err
    got = json.loads(out)
    assert (got["leverage"], got["margin_mode"]) == ("4", "cross") and float(got["margin"]) > 0
    rc, out, err = cashup(capsys, "positions", "leverage", "BTC_USDT", "10", "--margin", "isolated", "--mode",
                          "testnet", "--json")
    assert rc == 0, err
    iso = json.loads(out)
    assert iso["margin_mode"] == "isolated" and float(iso["margin"]) == pytest.approx(float(got["margin"]) * 4 / 10)
    rc, out, err = cashup(capsys, "positions", "--sync", "--mode", "testnet", "--json")
    assert rc == 0 and json.loads(out)["positions"][0]["leverage"] == "10", err
    assert json.loads(out)["positions"][0]["margin_mode"] == "isolated"


def test_bad_leverage_unknown_symbol_and_venue_refusal(capsys: pytest.CaptureFixture[str], small_account) -> None:
    rc, _, err = cashup(capsys, "positions", "leverage", "BTC_USDT", "500", "--mode", "testnet")
    assert rc == 2 and "outside BTC_USDT's range 1-100x" in err and "Traceback" not in err
    rc, _, err = cashup(capsys, "positions", "leverage", "BTC_USDT", "abc", "--mode", "testnet")
    assert rc == 2 and "leverage 'abc' is not a number" in err
    rc, _, err = cashup(capsys, "positions", "leverage", "BTC_USDT", "5", "--margin", "portfolio", "--mode", "testnet")
    assert rc == 2 and "use cross or isolated" in err
    rc, _, err = cashup(capsys, "positions", "leverage", "NOPE_USDT", "5", "--mode", "testnet")
    assert rc == 2 and "unknown contract(s): NOPE_USDT" in err
    # above the risk gate's cap (risk.max_leverage 10) but inside the contract's range
    rc, _, err = cashup(capsys, "positions", "leverage", "BTC_USDT", "20", "--mode", "testnet")
    assert rc == 1 and "max_leverage" in err and "[1, 10" in err
    # it says which limit refused it and how to change that one
    assert "above the risk limit risk.max_leverage = 10" in err and "BTC_USDT itself allows up to 100x" in err
    assert "raise max_leverage under [risk] in the settings file" in err
    # the venue refuses: 1x needs the whole notional as margin and the account has 1000 USDT
    rc, _, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "500", "--type", "market", "--mode", "testnet")
    assert rc == 0, err
    rc, _, err = cashup(capsys, "positions", "leverage", "BTC_USDT", "1", "--mode", "testnet")
    assert rc == 1 and "INSUFFICIENT_AVAILABLE" in err and "Traceback" not in err
