"""`cashup notify test|channels|history` as a real process against loopback endpoints."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.notify_helpers import http_sink, refused_port

REPO = Path(__file__).resolve().parent.parent


async def acashup(*args: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cashup_tui", *args, cwd=REPO, env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin or b""), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_notify_test_delivers_and_history_records(tmp_path: Path) -> None:
    token = "HookPathToken0123456789"
    async with http_sink() as sink:
        code, out, err = await acashup("notify", "test", sink.url("json", f"/hook/{token}"),
                                       "--title", "hello & 你好", "--body", "a=b&c")
        assert code == 0, err
        assert "#1 json: sent after 1 attempt(s)" in out and token not in out + err
        assert len(sink.got) == 1
        payload = json.loads(sink.got[0].body)
        assert payload["title"] == "hello & 你好" and payload["message"].startswith("a=b&c")
        # URL via stdin ('-') keeps it out of argv
        code, out, err = await acashup("notify", "test", "-", stdin=sink.url("json", "/stdin").encode() + b"\n")
        assert code == 0, err
        assert sink.got[-1].path == "/stdin"
    code, out, err = await acashup("notify", "test", f"json://127.0.0.1:{refused_port()}/x/{token}",
                                   env={"CASHUP_NOTIFY_RETRIES": "0"})
    assert code == 1 and "did not deliver" in err and "Traceback" not in err and token not in out + err
    code, out, err = await acashup("notify", "history", "--json")
    assert code == 0, err
    hist = json.loads(out)["history"]
    assert [h["status"] for h in hist][:3] == ["failed", "sent", "sent"]
    assert all(token not in json.dumps(h) for h in hist)
    log_text = "".join(p.read_text() for p in Path(os.environ["CASHUP_LOG_DIR"]).glob("*.log"))
    assert token not in log_text


async def test_bad_url_and_channels(tmp_path: Path) -> None:
    code, out, err = await acashup("notify", "test", "tgram://123456789:AAFakeTelegramTokenForTests_0123456")
    assert code == 2 and "no chat id" in err and "AAFake" not in err
    cfg = tmp_path / "c.toml"
    cfg.write_text('[notify]\nurls = ["critical=json://127.0.0.1:9/a", "pushplus://' + "p" * 32 + '"]\n')
    code, out, err = await acashup("--config", str(cfg), "notify", "channels")
    assert code == 0, err
    assert out.splitlines() == ["#1 json: critical", "#2 pushplus: debug, info, warning, critical"]
    assert "p" * 32 not in out


async def test_notify_test_succeeds_when_routing_skips_a_channel(tmp_path: Path) -> None:
    """A channel whose tags do not take the test's severity is skipped as a real event would be: exit 0,
    saying which channel and why; the other channel gets the message."""
    async with http_sink() as sink:
        cfg = tmp_path / "c.toml"
        cfg.write_text(f'[notify]\nurls = ["critical={sink.url("json", "/crit")}", "{sink.url("json", "/all")}"]\n')
        code, out, err = await acashup("--config", str(cfg), "notify", "test")
        assert code == 0, out + err
        assert "#1 json: skipped (routing: it takes critical, not info)" in out
        assert "#2 json: sent after 1 attempt(s)" in out
        assert [g.path for g in sink.got] == ["/all"]
        code, out, err = await acashup("--config", str(cfg), "notify", "test", "--severity", "critical", "--json")
        assert code == 0, err
        assert [r["outcome"] for r in json.loads(out)["results"]] == ["sent", "sent"]
        only = tmp_path / "only.toml"
        only.write_text(f'[notify]\nurls = ["critical={sink.url("json", "/crit")}"]\n')
        code, out, err = await acashup("--config", str(only), "notify", "test")
        assert code == 0, err
        assert "#1 json: skipped" in out and "nothing sent: no channel takes info messages" in err


async def test_user_templates_override_the_built_ins_and_a_bad_one_names_file_and_line(tmp_path: Path) -> None:
    """templates/notify/<event>.j2 beside the settings file overrides that built-in; a broken one stops
    `notify test` (exit 2) with the file and line, before anything is sent."""
    async with http_sink() as sink:
        cfg = tmp_path / "cashup.toml"
        cfg.write_text(f'[notify]\nurls = ["{sink.url("json", "/hook")}"]\n')
        folder = tmp_path / "templates" / "notify"
        folder.mkdir(parents=True)
        (folder / "test.j2").write_text("DESK {{ title|upper }}\nseverity {{ severity }}: {{ body }}\n")
        code, out, err = await acashup("--config", str(cfg), "notify", "test", "--title", "hello")
        assert code == 0, err
        payload = json.loads(sink.got[-1].body)
        assert payload["title"] == "DESK HELLO" and payload["message"].startswith("severity info: If you can read")
        code, out, err = await acashup("--config", str(cfg), "notify", "templates", "--json")
        assert code == 0, err
        listed = {r["event"]: r["template"] for r in json.loads(out)["templates"]}
        assert listed["test"] == str(folder / "test.j2") and listed["fill"] == "built-in"

        sent = len(sink.got)
        cases = [
            ("fill.j2", "Fill {{ side }}\n{{ size }} {{ symbl }}\n", ":2: 'symbl' is undefined"),
            ("test.j2", "Test\n\n{% if title %}{{ title }\n", ":3: template syntax error"),
            ("fil.j2", "x\n", "no notification event is called 'fil'"),
            ("alert.j2", "{% if rule_id == 'never' %}{{ message }}{% endif %}\n", ":1: renders nothing"),
        ]
        for name, text, expected in cases:
            for old in folder.glob("*.j2"):
                old.unlink()
            (folder / name).write_text(text)
            code, out, err = await acashup("--config", str(cfg), "notify", "test")
            assert code == 2, (name, out, err)
            assert f"{folder / name}{expected}" in err or (expected in err and str(folder / name) in err), err
            assert "Traceback" not in err
            code, _, err2 = await acashup("--config", str(cfg), "notify", "templates")
            assert code == 2 and str(folder / name) in err2
        assert len(sink.got) == sent  # nothing went out with a broken template
