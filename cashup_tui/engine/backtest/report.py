"""A self-contained HTML report of one run: metrics, equity and drawdown as inline SVG, trades.

No JavaScript, no external files or fonts: the file can be mailed or archived as is.
Written atomically (temporary file + rename) so a failure never leaves half a report.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cashup_tui.engine.backtest.metrics import drawdown_curve
from cashup_tui.engine.backtest.model import Result

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>CashUp backtest: {{ strategy }} {{ symbol }} {{ timeframe }}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d1f24;background:#fafafa}
h1{font-size:20px;margin:0 0 4px} .sub{color:#666;margin-bottom:16px}
table{border-collapse:collapse;margin:8px 0 20px} td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
th{background:#eef} td.l,th.l{text-align:left} .pos{color:#0a7a2f} .neg{color:#b3261e}
.grid{display:grid;grid-template-columns:repeat(4,auto);gap:2px 18px;width:max-content}
.grid div:nth-child(odd){color:#555} svg{background:#fff;border:1px solid #ddd}
</style></head><body>
<h1>{{ strategy }} <small>{{ params_text }}</small></h1>
<div class="sub">{{ symbol }} {{ timeframe }} · {{ bars }} bars · {{ start }} → {{ end }} UTC · engine {{ engine }}
 · data {{ source }}{% if run_id %} · run {{ run_id }}{% endif %} · fingerprint <code>{{ fingerprint }}</code></div>
<div class="grid">{% for k, v in cells %}<div>{{ k }}</div><div><b>{{ v }}</b></div>{% endfor %}</div>
<h2>Equity</h2>{{ equity_svg }}
<h2>Drawdown</h2>{{ dd_svg }}
{% if symbols %}<h2>Per symbol</h2>
<table><tr><th class="l">symbol</th>{% for c in symbol_columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in symbols %}<tr><td class="l">{{ r[0] }}</td>{% for v in r[1:] %}<td>{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table>
<h3>Correlation of {{ corr_what }}</h3>
<table><tr><th class="l"></th>{% for r in symbols %}<th>{{ r[0] }}</th>{% endfor %}</tr>
{% for name, row in corr %}<tr><td class="l">{{ name }}</td>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endif %}
<h2>Settings</h2><table>{% for k, v in settings %}<tr><td class="l">{{ k }}</td><td class="l">{{ v }}</td></tr>{% endfor %}</table>
{% if trade_count or not symbols %}<h2>Trades ({{ trade_count }}{% if trades_cut %}, last {{ trades|length }} shown{% endif %})</h2>
<table><tr><th class="l">entry (UTC)</th><th class="l">exit (UTC)</th><th class="l">side</th><th>qty</th><th>entry</th>
<th>exit</th><th>pnl</th><th>fees</th><th class="l">exit reason</th></tr>
{% for t in trades %}<tr><td class="l">{{ t.entry }}</td><td class="l">{{ t.exit }}</td><td class="l">{{ t.side }}</td>
<td>{{ t.qty }}</td><td>{{ t.entry_price }}</td><td>{{ t.exit_price }}</td>
<td class="{{ 'pos' if t.pnl_v >= 0 else 'neg' }}">{{ t.pnl }}</td><td>{{ t.fees }}</td><td class="l">{{ t.reason }}</td></tr>
{% endfor %}</table>{% endif %}
<p class="sub">Generated {{ now }} by CashUp. Signals at a bar's close fill at the next bar's open; see the README for the execution model.</p>
</body></html>
"""

MAX_TRADES = 2000

# the per-symbol section (sleeves and portfolios give rows with these keys, besides "symbol")
SYMBOL_COLUMNS = (("PnL (USDT)", "pnl"), ("contribution", "contribution"), ("exposure", "exposure"),
                  ("turnover", "turnover"), ("fees", "fees"), ("final weight", "final_weight"))


def _ts(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _svg(t: np.ndarray, y: np.ndarray, *, color: str, fill: bool = False, w: int = 960, h: int = 240) -> str:
    """A polyline of at most ~2w points with min/max labels."""
    if y.size < 2:
        return "<p>(not enough bars)</p>"
    step = max(1, y.size // (2 * w))
    idx = np.r_[np.arange(0, y.size, step), y.size - 1]
    tx, ty = t[idx].astype(np.float64), y[idx].astype(np.float64)
    lo, hi = float(np.min(ty)), float(np.max(ty))
    span = hi - lo or 1.0
    pad = 30
    xs = pad + (tx - tx[0]) / max(tx[-1] - tx[0], 1.0) * (w - 2 * pad)
    ys = pad / 2 + (hi - ty) / span * (h - pad)
    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys, strict=True))
    area = ""
    if fill:
        base = pad / 2 + (hi - min(max(0.0, lo), hi)) / span * (h - pad)
        area = f'<polygon points="{xs[0]:.1f},{base:.1f} {pts} {xs[-1]:.1f},{base:.1f}" fill="{color}" fill-opacity="0.25"/>'
    return (f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">{area}'
            f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.3"/>'
            f'<text x="2" y="12" font-size="11">{hi:,.2f}</text><text x="2" y="{h - 4}" font-size="11">{lo:,.2f}</text>'
            f'<text x="{w - 120}" y="{h - 4}" font-size="11">{_ts(int(tx[-1]))}</text>'
            f'<text x="{pad}" y="{h - 4}" font-size="11">{_ts(int(tx[0]))}</text></svg>')


def _fmt(k: str, v: Any) -> str:
    if v is None:
        return "n/a" if k == "cagr" else "-"  # CAGR: the span was under 30 days (metrics.cagr)
    if k in ("total_return", "cagr", "max_drawdown", "win_rate", "exposure"):
        return f"{v * 100:,.2f}%"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _cell(key: str, v: Any) -> str:
    if v is None:
        return "-"
    if key in ("contribution", "exposure", "final_weight"):
        return f"{v * 100:,.2f}%"
    return f"{v:,.2f}x" if key == "turnover" else f"{v:,.2f}"


def render(res: Result, metrics: dict[str, Any], fingerprint: str, *, run_id: int | None = None, source: str = "",
           per_symbol: list[dict[str, Any]] | None = None,
           correlation: dict[str, dict[str, float | None]] | None = None, corr_what: str = "") -> str:
    """The report; `per_symbol` rows (keys of SYMBOL_COLUMNS) and their `correlation` add the per-symbol
    section (sleeves, portfolios)."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    labels = [("final equity", "final_equity"), ("total return", "total_return"), ("CAGR", "cagr"),
              ("max drawdown", "max_drawdown"), ("Sharpe", "sharpe"), ("Sortino", "sortino"), ("Calmar", "calmar"),
              ("profit factor", "profit_factor"), ("trades", "trade_count"), ("win rate", "win_rate"),
              ("exposure", "exposure"), ("fees", "fees"), ("funding", "funding"), ("avg trade", "avg_trade")]
    rows = res.trade_rows()
    cut = len(rows) > MAX_TRADES
    rows = rows[-MAX_TRADES:]
    trades = [{
        "entry": _ts(r["entry_time"]), "exit": _ts(r["exit_time"]), "side": r["side"], "qty": f"{r['qty']:.6g}",
        "entry_price": f"{r['entry_price']:,.2f}", "exit_price": f"{r['exit_price']:,.2f}", "pnl": f"{r['pnl']:,.2f}",
        "pnl_v": r["pnl"], "fees": f"{r['fees']:,.2f}", "reason": r["exit_reason"],
    } for r in rows]
    eq = res.equity
    return env.from_string(_TEMPLATE).render(
        strategy=res.strategy, params_text=" ".join(f"{k}={v}" for k, v in res.params.items()), symbol=res.symbol,
        timeframe=res.timeframe, bars=f"{eq.size:,}", start=_ts(int(res.time_ms[0])), end=_ts(int(res.time_ms[-1])),
        engine=res.engine, source=source, run_id=run_id, fingerprint=fingerprint,
        cells=[(a, _fmt(b, metrics.get(b))) for a, b in labels],
        equity_svg=Markup(_svg(res.time_ms, eq, color="#0a7a2f")),
        dd_svg=Markup(_svg(res.time_ms, drawdown_curve(eq) * 100, color="#b3261e", fill=True)),
        symbols=[(r["symbol"], *(_cell(k, r.get(k)) for _, k in SYMBOL_COLUMNS)) for r in per_symbol or []],
        symbol_columns=[c for c, _ in SYMBOL_COLUMNS], corr_what=corr_what or "symbol bar returns",
        corr=[(a, ["-" if v is None else f"{v:.2f}" for v in row.values()]) for a, row in (correlation or {}).items()],
        settings=list(res.config.as_dict().items()), trade_count=len(res.trades), trades=trades, trades_cut=cut,
        now=datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(path: str | Path, res: Result, metrics: dict[str, Any], fingerprint: str, *,
                 run_id: int | None = None, source: str = "", **sections: Any) -> Path:
    """Render and write atomically; raises DataError with the path if the folder is not writable.
    `sections`: render's per_symbol, correlation and corr_what."""
    from cashup_tui.domain.errors import DataError

    path = Path(path).expanduser()
    html = render(res, metrics, fingerprint, run_id=run_id, source=source, **sections)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"--report {path}: folder {folder} does not exist", hint="create it or pick another path")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, path)
    except OSError as exc:
        raise DataError(f"cannot write the report {path}: {exc.strerror}") from None
    return path
