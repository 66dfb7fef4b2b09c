"""Which private-channel events the venue records, and the pending list `drain_events()` hands out."""

from __future__ import annotations

from collections.abc import Iterable

from cashup_tui.venue.base import VenueError
from cashup_tui.venue.models import CHANNEL_OF, VenueEvent


class Recorder:
    """The venue's event log. `record` is False when no kind is recorded (nothing is built at all);
    position and balance snapshots, the costly ones, are built only when their kind is asked for."""

    __slots__ = ("events", "kinds", "rec_balance", "rec_position", "record")

    def __init__(self, record_events: bool | Iterable[str]) -> None:
        if record_events is True or record_events is False:
            kinds = frozenset(CHANNEL_OF) if record_events else frozenset()
        else:
            kinds = frozenset(record_events)
            if not kinds <= CHANNEL_OF.keys():
                raise VenueError("INVALID_PARAM_VALUE", f"record_events: unknown kind(s) {sorted(kinds.difference(CHANNEL_OF))}",
                                 hint=f"kinds: {', '.join(sorted(CHANNEL_OF))}")
        self.record = bool(kinds)  # any kind: the cheap ones are built, drain() keeps the asked ones
        self.kinds: frozenset[str] | None = None if kinds == CHANNEL_OF.keys() else kinds
        self.rec_balance = "balance" in kinds
        self.rec_position = "position" in kinds
        self.events: list[VenueEvent] = []

    def drain(self) -> list[VenueEvent]:
        """Events since the last call, in the order they happened (only the recorded kinds)."""
        out = self.events
        self.events = []
        if self.kinds is not None and out:
            kinds = self.kinds
            out = [e for e in out if e.kind in kinds]
        return out
