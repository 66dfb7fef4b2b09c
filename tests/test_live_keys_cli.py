"""Live mode looks for API keys before asking the user to type LIVE (issue 11): with none configured the
user gets how to add them, not a prompt whose answer leads to a key error."""

from __future__ import annotations

import sys

import pytest
import typer

from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET
from tests.test_runtime_cli import cashup


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A terminal on stdin whose user answers every prompt with 'nope' (so nothing ever starts)."""
    asked: list[str] = []

    def prompt(text: str, *a: object, **kw: object) -> str:
        asked.append(text)
        return "nope"

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(typer, "prompt", prompt)
    return asked


@pytest.mark.parametrize("command", [("tui",), ("orders", "cancel", "--all")])
def test_live_without_keys_says_how_to_add_them_before_asking_for_live(
        capsys: pytest.CaptureFixture[str], prompts: list[str], command: tuple[str, ...]) -> None:
    rc, _, err = cashup(capsys, *command, "--mode", "live")
    assert prompts == []  # never asked to type LIVE
    assert rc == 2 and "live mode needs Gate API keys" in err and "cashup keys set gateio" in err, err
    assert "cashup keys status" in err and "Traceback" not in err
    rc, _, err = cashup(capsys, *command, "--mode", "live", "--confirm-live")  # the headless flag: the same check
    assert rc == 2 and "cashup keys set gateio" in err and prompts == []


def test_live_with_keys_asks_for_live(capsys: pytest.CaptureFixture[str], prompts: list[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASHUP_GATE_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("CASHUP_GATE_API_SECRET", FAKE_API_SECRET)
    rc, _, err = cashup(capsys, "tui", "--mode", "live")
    assert len(prompts) == 1 and "Type LIVE" in prompts[0]
    assert rc == 1 and "not confirmed" in err
    monkeypatch.delenv("CASHUP_GATE_API_SECRET")  # half a pair: said plainly, before any prompt
    rc, _, err = cashup(capsys, "tui", "--mode", "live")
    assert rc == 2 and "CASHUP_GATE_API_SECRET is not set" in err and len(prompts) == 1


def test_a_vault_counts_as_keys(capsys: pytest.CaptureFixture[str], prompts: list[str]) -> None:
    from cashup_tui.paths import vault_path

    path = vault_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")  # opened (with its passphrase) only when the node starts
    rc, _, err = cashup(capsys, "tui", "--mode", "live")
    assert len(prompts) == 1 and rc == 1 and "not confirmed" in err
