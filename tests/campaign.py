"""How big the fuzz and fault campaigns are: bounded for CI, thousands with `pytest --campaign`.

Property tests size themselves with `examples(ci, campaign)` in their `@settings`; fault campaigns
(random kill -9 over the order path) read `rounds(ci, campaign)`. The switch is set by conftest's
`pytest_configure`, which runs before test modules are imported.
"""

from __future__ import annotations

ENABLED = False


def examples(ci: int, campaign: int | None = None) -> int:
    """Hypothesis max_examples: `ci` normally, `campaign` (default 20x) under --campaign."""
    return (campaign if campaign is not None else ci * 20) if ENABLED else ci


def rounds(ci: int, campaign: int | None = None) -> int:
    """Iterations of a scripted fault campaign (kills, faults): same rule as `examples`."""
    return examples(ci, campaign)
