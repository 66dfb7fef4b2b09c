"""Bad numbers from users (issue 14): NaN, sNaN, Infinity, 1e1000000, `1_0`, non-ASCII digits, a client
id with a trailing newline... are a clear error (exit 1 or 2), never exit 70 or a traceback; an order
whose outcome is unknown exits 3."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from cashup_tui.cli.orders import EXIT_UNCONFIRMED, parse_order_fields
from cashup_tui.domain.enums import OrderType
from cashup_tui.domain.errors import RiskDenied, ValidationError
from cashup_tui.domain.ids import validate_client_id
from cashup_tui.domain.instruments import to_decimal, to_decimal_or, user_decimal
from tests.campaign import examples
from tests.engine_fakes import BTC, make_engine, order
from tests.test_runtime_cli import cashup
from tests.test_runtime_cli_sim import serve_sim

pytestmark = pytest.mark.timeout(90)

BAD = ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "1e1000000", "1e-1000000", "1_0", "١٢", "１２",
       "0x10", "1,5", "", " ", "--", "1e", "e5", "1.2.3", "²"]


@pytest.mark.parametrize("text", BAD)
def test_user_decimal_refuses_garbage(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        user_decimal(text, "SIZE")
    assert "SIZE" in str(info.value)


@pytest.mark.parametrize(("text", "value"), [("1", "1"), (" 25000.1 ", "25000.1"), ("3e-5", "0.00003"), ("-2", "-2"),
                                             (".5", "0.5"), ("1E+3", "1000"), ("0", "0")])
def test_user_decimal_keeps_plain_numbers_exact(text: str, value: str) -> None:
    assert user_decimal(text, "x") == Decimal(value)


@pytest.mark.parametrize("value", [*BAD[:6], *BAD[8:], None, True, float("nan"), float("inf"), Decimal("NaN"),
                                   Decimal("-Infinity"), [1], b"1"])
def test_to_decimal_refuses_anything_but_a_finite_number(value: object) -> None:
    with pytest.raises(ValidationError, match="fee"):
        to_decimal(value, "fee")
    assert to_decimal_or(value) == Decimal(0) and to_decimal_or(value, None) is None


@pytest.mark.parametrize(("value", "exact"), [(Decimal("1.50"), "1.50"), (7, "7"), (0.1, "0.1"), (" -3e-5 ", "-0.00003"),
                                              (1e300, "1e300"), ("1e1000000", "1e1000000")])
def test_to_decimal_is_exact(value: object, exact: str) -> None:
    assert to_decimal(value) == Decimal(exact)  # a float by its shortest repr: 0.1, not 0.1000000000000000055...


def test_to_decimal_bounded_refuses_overflowing_magnitudes() -> None:
    assert to_decimal("1e29", bounded=True) == Decimal("1e29")
    for huge in ("1e30", "1e1000000", Decimal("1e-31")):
        with pytest.raises(ValidationError, match="out of range"):
            to_decimal(huge, "size", bounded=True)


@pytest.mark.parametrize("value", ["1e1000000", "-1e1000000", "1e31"])
@pytest.mark.parametrize("field", ["size", "price", "trigger_price"])
def test_the_risk_gate_refuses_huge_numbers_instead_of_overflowing(field: str, value: str) -> None:
    e = make_engine()
    o = replace(order(otype=OrderType.STOP_LIMIT, trigger_price=Decimal(50000)), **{field: Decimal(value)})
    with pytest.raises(RiskDenied) as info:
        e.risk.check_submit(o)
    assert info.value.rule == "input_sanity"


def test_instrument_rules_refuse_huge_numbers() -> None:
    for size, price in ((Decimal("1e1000000"), None), (Decimal(1), Decimal("1e1000000"))):
        with pytest.raises(ValidationError):
            BTC.check_order(size, price)


@pytest.mark.parametrize("cid", ["t-abc\n", "t-abc\r\n", "t-ab c", "t-ｘ", "t-" + "a" * 29, "tx-abc", "t-"])
def test_client_ids_must_match_whole(cid: str) -> None:
    with pytest.raises(ValidationError):
        validate_client_id(cid)
    validate_client_id("t-" + "a" * 28)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("BTC_USDT", "buy", "NaN"), "SIZE 'NaN'"),
        (("BTC_USDT", "buy", "sNaN", "--type", "market"), "SIZE 'sNaN'"),
        (("BTC_USDT", "buy", "Infinity"), "SIZE 'Infinity'"),
        (("BTC_USDT", "buy", "1e1000000", "--type", "market"), "out of range"),
        (("BTC_USDT", "buy", "1_0", "--type", "market"), "SIZE '1_0'"),
        (("BTC_USDT", "buy", "١٢", "--type", "market"), "is not a number"),
        (("BTC_USDT", "buy", "1", "--price", "1e1000000"), "--price"),
        (("BTC_USDT", "buy", "1", "--price", "NaN"), "--price 'NaN'"),
        (("BTC_USDT", "buy", "1", "--type", "stop_market", "--trigger", "Infinity"), "--trigger"),
        (("BTC_USDT", "buy", "1", "--client-id", "t-abc\n"), "client order id"),
        (("BTC_USDT", "buy", "1", "--type", "moon"), "Invalid value for '--type'"),  # a typer choice
        (("BTC_USDT", "buy", "1", "--tif", "forever"), "Invalid value for '--tif'"),
        (("BTC/USDT", "buy", "1"), "not a Gate contract name"),
    ],
)
def test_cli_bad_numbers_are_exit_2_in_process(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                               needle: str) -> None:
    rc, out, err = cashup(capsys, "orders", "place", *args)
    assert rc == 2, (rc, out, err)
    assert needle in err and "Traceback" not in err + out and "bug" not in err


def test_cli_bad_numbers_in_real_processes(tmp_path) -> None:
    env = {**os.environ, "CASHUP_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    for args in (["BTC_USDT", "buy", "-NaN", "--type", "market"], ["BTC_USDT", "buy", "1", "--price", "1e1000000"],
                 ["BTC_USDT", "buy", "1e1000000", "--type", "market"]):
        p = subprocess.run([sys.executable, "-m", "cashup_tui", "orders", "place", "--", *args], env=env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert "Traceback" not in p.stderr and "bug in CashUp" not in p.stderr


_field = st.one_of(st.text(max_size=12), st.sampled_from([*BAD, "1", "2.5", "26000", "-1", "0", "1e-30", "3e-5"]),
                   st.floats().map(repr), st.integers().map(str), st.decimals().map(str))


@settings(max_examples=examples(300), deadline=None)
@given(size=_field, price=st.none() | _field, trigger=st.none() | _field,
       side=st.one_of(st.sampled_from(["buy", "sell", "BUY", "up"]), st.text(max_size=5)),
       otype=st.one_of(st.sampled_from(["market", "limit", "stop_limit", "trailing_stop", "x"]), st.text(max_size=5)),
       tif=st.none() | st.sampled_from(["gtc", "ioc", "poc", "fok", "never"]) | st.text(max_size=4),
       cid=st.none() | st.text(max_size=32) | st.just("t-ok\n"))
def test_order_fields_parse_or_fail_cleanly(size, price, trigger, side, otype, tif, cid) -> None:
    try:
        f = parse_order_fields("BTC_USDT", side, size, otype, price, trigger, tif, None, None, cid)
    except ValidationError as exc:
        assert exc.args[0]
        return
    for d in (f.size, f.price, f.trigger):
        assert d is None or (d.is_finite() and (d == 0 or abs(d.adjusted()) <= 30))
    assert f.side in ("buy", "sell") and f.tif in (None, "gtc", "ioc", "poc", "fok")
    assert f.client_id is None or ("\n" not in f.client_id and f.client_id.isascii())
    # the gate takes it from here: a RiskDenied or a pass, never another exception
    e = make_engine()
    try:
        o = e.om.build("BTC_USDT", f.side, f.size, order_type=OrderType(f.order_type), price=f.price,
                       tif=f.tif, trigger_price=f.trigger, client_id=f.client_id)
        e.risk.check_submit(o)
    except (ValidationError, RiskDenied):
        pass


@pytest.fixture
def sim_losing_a_request(monkeypatch: pytest.MonkeyPatch):
    """`cashup sim serve` whose next order request vanishes before the venue (connection dropped)."""
    yield from serve_sim(monkeypatch, "--fault", "lose_next_requests=1")


def test_unknown_outcome_exits_3(capsys: pytest.CaptureFixture[str], sim_losing_a_request) -> None:
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "1", "--type", "market", "--mode", "testnet")
    assert rc == EXIT_UNCONFIRMED == 3, (rc, out, err)
    assert "UNCONFIRMED" in out and "outcome unknown" in err and "orders sync" in err


@pytest.mark.parametrize("text", ["1_0", "١٢", "NaN", "Infinity", "1e1000000", "sNaN"])
def test_the_order_ticket_uses_the_same_strict_parser(text: str) -> None:
    from cashup_tui.app.modals.ticket import TicketError, build_request
    from cashup_tui.domain.enums import Side

    with pytest.raises(TicketError, match="size"):
        build_request("BTC_USDT", Side.BUY, "market", text, "", "", False, "", "", "")
    assert build_request("BTC_USDT", Side.BUY, "market", "1,000", "", "", False, "", "", "").size == Decimal(1000)
