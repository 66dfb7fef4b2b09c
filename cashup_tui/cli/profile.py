"""The profile check of the research commands (`backtest run`, `optimize`).

Why here: `service/roles.py` declares backtesting and optimising as profile actions (a viewer may do
neither; developer, trader and admin may), and the trading commands ask the session through a node. A
backtest has no node and no venue, so it asks a session of its own before any work, and the attempt
(allowed or denied) goes to the audit log of the store the run is recorded in (`cashup audit`). Light on
purpose: a cold `backtest run` loads neither the runtime nor SQLAlchemy for it (`store.lite`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer

from cashup_tui.cli.common import db_url_from


def require_profile(ctx: typer.Context | None, settings: Any, what: str, name: str, *, audit_store: bool = True,
                    **detail: Any) -> None:
    """Raise PermissionDenied (exit 1, with how to get the right profile) unless `ui.profile` may do `what`."""
    from cashup_tui.service.roles import Session

    def to_store(action: str, *, role: str, outcome: str, detail: Mapping[str, Any]) -> None:
        from cashup_tui.store.lite import audit_sqlite

        text = " ".join(f"{k}={v}" for k, v in dict(detail).items())
        row = {"detail": text if outcome == "allowed" else f"DENIED {text}".rstrip()}  # no mode: listed in all
        url, st = db_url_from(ctx, settings), settings.store
        if audit_sqlite(url, action, f"cli:{role}", row, synchronous=st.synchronous,
                        busy_timeout_ms=st.busy_timeout_ms):
            return
        from cashup_tui.store import open_store
        from cashup_tui.store.records import audit

        db = open_store(url, synchronous=st.synchronous, busy_timeout_ms=st.busy_timeout_ms)
        try:
            audit(db, action, f"cli:{role}", row)
        finally:
            db.close()

    # no venue and no orders (a backtest sends none): the profile alone decides; never an admin action
    session = Session(settings.ui.profile, audit=to_store if audit_store else None)
    session.authorize(what, record_as=name, **detail)
