"""Epoch-ms <-> ISO-8601 UTC text, for messages and listings (the edges, not the hot path)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts_ms: int, *, ms: bool = False) -> str:
    """`2023-01-01T00:00:00Z`, milliseconds shown only when non-zero (bar times), or always with `ms`
    (`...T00:00:00.000Z`: event times in listings, one width, so their text sorts as their time does)."""
    dt = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    if ms or ts_ms % 1000:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
