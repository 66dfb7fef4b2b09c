"""Timeframe strings (`10s`, `1m`, `5m`, `1h`, `4h`, `1d`, `7d`) and their lengths in ms."""

from __future__ import annotations

import re

from cashup_tui.domain.errors import ValidationError

WEEK_MS = 604_800_000
WEEK_ANCHOR_MS = 4 * 86_400_000  # 1970-01-05, a Monday: weekly bars open Monday 00:00 UTC, as Gate's do
_UNITS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_TF_RE = re.compile(r"^(\d+)([smhdw])$")


def timeframe_ms(tf: str) -> int:
    """Length of one bar in milliseconds; raises ValidationError naming the accepted forms."""
    m = _TF_RE.match(tf.strip()) if isinstance(tf, str) else None
    if not m or int(m.group(1)) <= 0:
        raise ValidationError(
            f"unknown timeframe {tf!r}",
            hint="use a number and a unit: 1m, 5m, 15m, 1h, 4h, 1d (units s, m, h, d, w)",
        )
    return int(m.group(1)) * _UNITS_MS[m.group(2)]


def check_resample(src: str, dst: str) -> int:
    """Return how many `src` bars make one `dst` bar; reject non-multiples and downsampling."""
    a, b = timeframe_ms(src), timeframe_ms(dst)
    if b <= a or b % a:
        raise ValidationError(
            f"cannot resample {src} to {dst}",
            hint=f"the target must be a whole multiple of {src} and longer than it (e.g. 1m -> 5m, 1h -> 4h)",
        )
    return b // a


def bucket_start(ts_ms: int, tf_ms: int) -> int:
    """Open time (UTC) of the bar containing `ts_ms`: epoch-aligned, weekly bars from Monday 00:00."""
    return ts_ms - (ts_ms - bucket_anchor(tf_ms)) % tf_ms


def bucket_anchor(tf_ms: int) -> int:
    """The time bar boundaries are counted from: 0 (the epoch, a Thursday), or a Monday for weekly bars."""
    return WEEK_ANCHOR_MS if tf_ms % WEEK_MS == 0 else 0
