"""Notification messages: domain events -> (template, severity, dedup key, fields), and rendering them
with the jinja templates (built-in or the user's: `notify_templates.py`). The queue that sends them is
`notify.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cashup_tui.adapters.notify_templates import environment

log = logging.getLogger("cashup.notify")


# --- templates ------------------------------------------------------------------------------


def render(event: str, fields: Mapping[str, Any], templates_dir: str | None = None) -> tuple[str, str]:
    """(title, body) from `<event>.j2` (the user's in `templates_dir` if there is one, else the built-in):
    the first line is the title.

    A template bug must not lose the notification: fall back to `key: value` lines."""
    try:
        text = environment(templates_dir).get_template(f"{event}.j2").render(**fields).strip()
    except Exception as exc:
        log.warning("notify template %s failed (%s); sending a plain message", event, type(exc).__name__)
        lines = [f"{k}: {v}" for k, v in fields.items() if k not in ("title",)]
        return str(fields.get("title") or event.replace("_", " ")), "\n".join(lines)
    title, _, body = text.partition("\n")
    return title.strip(), body.strip()


# --- domain events -> notifications -----------------------------------------------------------

Spec = tuple[str, str, str | None, dict[str, Any], dict[str, str] | None]


def notification_for(event: Any) -> Spec | None:
    """(template, severity, dedup key, fields, qanotify fields) for a domain event, or None."""
    from cashup_tui.domain import events as ev
    from cashup_tui.domain.enums import OrderStatus, TradingState

    if isinstance(event, ev.OrderFilled):
        f = event.fill
        ts = datetime.fromtimestamp((f.ts_ms or event.ts_ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        fields = {"symbol": f.symbol, "side": f.side.value, "size": f.size, "price": f.price, "fee": f.fee,
                  "client_id": str(f.client_id), "trade_id": f.trade_id, "liquidity": f.liquidity.value}
        qa = {"template": "xiadan_report", "strategy_id": str(f.client_id), "realaccount": "gateio",
              "code": f.symbol, "order_direction": f.side.value.upper(), "order_offset": "",
              "price": str(f.price), "volume": str(f.size), "order_time": ts}
        return "fill", "info", f"fill:{f.trade_id}", fields, qa
    if isinstance(event, ev.OrderDenied):
        fields = {"symbol": "", "client_id": event.client_id, "rule": event.rule, "reason": event.message, "source": "risk gate"}
        return "rejection", "warning", f"denied:{event.rule}:{event.client_id}", fields, None
    if isinstance(event, ev.OrderUpdated) and event.order.status is OrderStatus.REJECTED:
        o = event.order
        fields = {"symbol": o.symbol, "client_id": str(o.client_id), "rule": "", "reason": o.reason or "rejected",
                  "source": "venue"}
        return "rejection", "warning", f"rejected:{o.client_id}", fields, None
    if isinstance(event, ev.RiskTripped):
        fields = {"rule": event.rule, "reason": event.message, "state": event.state.value}
        return "risk_trip", "critical", f"risk:{event.rule}:{event.state.value}", fields, None
    if isinstance(event, ev.TradingStateChanged):
        sev = "info" if event.new is TradingState.ACTIVE else "critical"
        fields = {"old": event.old.value, "new": event.new.value, "reason": event.reason}
        return "kill_switch", sev, f"state:{event.new.value}", fields, None
    if isinstance(event, ev.StrategyFailed):
        fields = {"strategy": event.strategy, "where": event.where, "reason": event.message}
        qa = {"template": "strategy_status", "first": f"Strategy {event.strategy} halted", "name": event.strategy,
              "stype": event.message, "frequence": "", "remark": event.where}
        return "strategy_error", "critical", f"strategy:{event.strategy}:{event.message}", fields, qa
    if isinstance(event, ev.FeedDisconnected):
        fields = {"stream": event.stream, "reason": event.reason, "kind": "disconnected"}
        return "disconnect", "warning", f"feed:{event.stream}", fields, None
    if isinstance(event, ev.FeedStale):
        fields = {"stream": event.stream, "reason": f"no data for {event.age_ms / 1000:.1f}s", "kind": "stale"}
        return "disconnect", "warning", f"feed:{event.stream}", fields, None
    return None


def alert_notification(fired: Any) -> Spec:
    """An `AlertFired` from domain.alerts -> notification spec (QANotify: price_notify)."""
    r = fired.rule
    fields = {"symbol": r.symbol, "rule": r.describe(), "message": fired.message, "value": fired.value,
              "rule_id": r.id, "kind": r.kind.value}
    qa = {"template": "price_notify", "first": fired.message, "name": r.symbol, "curprice": str(fired.value),
          "limitprice": str(r.threshold), "orderid": r.id, "remark": r.describe()}
    return "alert", "warning", f"alert:{r.id}:{fired.ts_ms}", fields, qa


def daily_pnl_fields(day: str, realized: Any, unrealized: Any, fees: Any, funding: Any, equity: Any) -> dict[str, Any]:
    return {"day": day, "realized": realized, "unrealized": unrealized, "fees": fees, "funding": funding,
            "equity": equity}
