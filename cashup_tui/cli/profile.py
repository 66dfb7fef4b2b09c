"""The profile check of the research commands (`backtest run`, `optimize`).

Why here: `service/roles.py` declares backtesting and optimising as profile actions (a viewer may do
neither; developer, trader and admin may), and the trading commands ask the session through a node. A
backtest has no node and no venue, so it asks a session of its own before any work, and the attempt
(allowed or denied) goes to the audit log in the store the run is recorded in (`cashup audit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer

from cashup_tui.cli.common import db_url_from


def require_profile(ctx: typer.Context | None, settings: Any, what: str, name: str, *, audit_store: bool = True,
                    **detail: Any) -> None:
    """Raise PermissionDenied (exit 1, with how to get the right profile) unless `ui.profile` may do `what`."""
    from cashup_tui.domain.enums import Mode
    from cashup_tui.runtime import make_session

    def to_store(action: str, *, role: str, outcome: str, detail: Mapping[str, Any]) -> None:
        from cashup_tui.store import open_store
        from cashup_tui.store.records import audit

        text = " ".join(f"{k}={v}" for k, v in dict(detail).items())
        db = open_store(db_url_from(ctx, settings), synchronous=settings.store.synchronous,
                        busy_timeout_ms=settings.store.busy_timeout_ms)
        try:
            audit(db, action, f"cli:{role}",
                  {"detail": text if outcome == "allowed" else f"DENIED {text}".rstrip()})  # no mode: listed in all
        finally:
            db.close()

    def to_log(action: str, *, role: str, outcome: str, detail: Mapping[str, Any]) -> None:
        import logging

        logging.getLogger("cashup.roles").info("audit %s role=%s outcome=%s %s", action, role, outcome, detail)

    # no venue, no orders: the mode only matters for orders (and a backtest sends none)
    session = make_session(settings, Mode.PAPER, to_store if audit_store else to_log)
    session.authorize(what, record_as=name, **detail)
