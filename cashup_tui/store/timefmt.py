"""Epoch-ms <-> ISO-8601 UTC text, for messages and listings (the edges, not the hot path)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts_ms: int) -> str:
    """`2023-01-01T00:00:00Z` (milliseconds shown only when non-zero)."""
    dt = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    if ts_ms % 1000:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
