"""`cashup sim serve --host`: only loopback, unless the unauthenticated admin endpoint is disabled
(--no-admin), so nobody on the network can flip the simulator's faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from cashup_tui.cli.sim import is_loopback
from tests.test_runtime_cli import cashup

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(("host", "ok"), [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
                                          ("localhost", True), ("0.0.0.0", False), ("::", False),
                                          ("192.168.1.5", False), ("example.com", False), ("", False)])
def test_is_loopback(host: str, ok: bool) -> None:
    assert is_loopback(host) is ok


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::"])
def test_a_public_interface_with_the_admin_endpoint_is_refused(capsys: pytest.CaptureFixture[str], host: str) -> None:
    rc, out, err = cashup(capsys, "sim", "serve", "--host", host, "--port", "0")
    assert rc == 2, (rc, out, err)
    assert "not a loopback interface" in err and "--no-admin" in err and "Traceback" not in err


def test_no_admin_serves_the_venue_but_not_the_admin_endpoint() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASHUP_GATE")}
    p = subprocess.Popen([sys.executable, "-m", "cashup_tui", "sim", "serve", "--port", "0", "--symbols", "BTC_USDT",
                          "--no-admin"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert p.stdout is not None
        rest = ""
        lines = []
        for line in p.stdout:
            lines.append(line)
            if line.startswith("export CASHUP_GATE_REST_URL="):
                rest = line.strip().split("=", 1)[1]
                break
        assert any("admin: disabled" in x for x in lines), lines
        base = rest.split("/api/v4")[0]
        with urllib.request.urlopen(rest + "/futures/usdt/contracts", timeout=10) as r:
            assert r.status == 200 and json.loads(r.read())
        for method, data in (("GET", None), ("POST", b'{"stale": true}')):
            req = urllib.request.Request(base + "/_sim/faults", data=data, method=method)
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(req, timeout=10)
            assert info.value.code == 404
    finally:
        p.terminate()
        p.wait(10)
