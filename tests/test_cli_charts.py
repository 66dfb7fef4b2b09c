"""The CLI's text charts use plotext's public API only (issue 11), and one chart never carries another's
data or titles (plotext's public functions share one module-level figure)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

import cashup_tui

PKG = Path(cashup_tui.__file__).parent


def _private_plotext_imports() -> list[str]:
    found = []
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            found += [f"{path.relative_to(PKG)}:{node.lineno} {n}" for n in names if n.startswith("plotext._")]
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("plotext", "plt") \
                    and node.attr.startswith("_"):
                found.append(f"{path.relative_to(PKG)}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_private_plotext_api() -> None:
    assert _private_plotext_imports() == []


def test_charts_in_a_row_do_not_share_state() -> None:
    from cashup_tui.cli.backtest import equity_chart
    from cashup_tui.cli.optimize import heatmap_chart

    t = np.arange(300) * 3_600_000
    eq = 10_000 + np.cumsum(np.sin(np.arange(300) / 7) * 20)
    first = equity_chart(t, eq, width=80, height=20).plain
    heat = heatmap_chart([5, 10], [30, 50], [[1.0, 2.0], [0.5, 3.0]], "fast", "slow", "sharpe", width=60).plain
    again = equity_chart(t, eq, width=80, height=20).plain
    assert "equity (USDT)" in first and "drawdown (%)" in first and "days" in first
    assert "best sharpe per (fast, slow)" in heat
    assert "equity" not in heat and "drawdown" not in heat and "days" not in heat
    assert again == first  # the heat-map left nothing behind
    assert max(len(line) for line in heat.splitlines()) <= 60
