"""The shutdown guard's rules for repeated requests (app/hangup.py): a second SIGTERM or SIGINT ends the
process at once; after the browser left (`cashup serve` stopping: it closes the tabs and the same Ctrl-C
reaches the app), the signal that follows is the first request, not a second one."""

from __future__ import annotations

import signal

from cashup_tui.app.hangup import ShutdownGuard


def _guard() -> tuple[ShutdownGuard, list[tuple[int, bool]], list[int]]:
    asked: list[tuple[int, bool]] = []
    exits: list[int] = []
    g = ShutdownGuard(lambda s, gone: asked.append((s, gone)), grace_s=3600, hard_exit=exits.append)
    g._begin = lambda signum, gone: asked.append((signum, gone))  # type: ignore[method-assign]  # no fd games here
    return g, asked, exits


def test_a_second_sigterm_or_sigint_is_a_hard_exit() -> None:
    for first, second in [(signal.SIGTERM, signal.SIGTERM), (signal.SIGTERM, signal.SIGINT),
                          (signal.SIGINT, signal.SIGINT)]:
        g, _, exits = _guard()
        try:
            g._on_signal(first, None)
            assert exits == []
            g._on_signal(second, None)
            assert exits == [128 + second]
        finally:
            g.uninstall()


def test_the_signal_after_the_browser_left_is_not_a_second_request() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        g, asked, exits = _guard()
        try:
            g.leave("the browser closed the session: stopping the node")
            g._on_signal(sig, None)
            assert exits == [] and asked == [(signal.SIGHUP, True)]  # the stop that runs goes on
            g._on_signal(sig, None)  # and one more is "now"
            assert exits == [128 + sig]
        finally:
            g.uninstall()
