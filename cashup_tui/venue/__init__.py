"""The simulated Gate venue model (matching, margin and liquidation, triggers, funding, accounts).

Shared by the loopback simulator server, paper trading and the event backtest; depends on
`cashup_tui.domain` only. `Venue` is the one entry point; see `venue.py` for the model.
"""

from cashup_tui.venue.base import (
    ORDER_ID_BASE,
    TEXT_LOOKUP_MS,
    TRADE_ID_BASE,
    TRIGGER_ID_BASE,
    UNLIMITED,
    VenueError,
)
from cashup_tui.venue.models import (
    VenueAccount,
    VenueEvent,
    VenueOrder,
    VenuePosition,
    VenueTrade,
    VenueTrigger,
)
from cashup_tui.venue.venue import Venue

__all__ = [
    "ORDER_ID_BASE",
    "TEXT_LOOKUP_MS",
    "TRADE_ID_BASE",
    "TRIGGER_ID_BASE",
    "UNLIMITED",
    "Venue",
    "VenueAccount",
    "VenueError",
    "VenueEvent",
    "VenueOrder",
    "VenuePosition",
    "VenueTrade",
    "VenueTrigger",
]
