"""Text charts for the CLI through plotext's public API only.

plotext's public functions draw on one module-level figure, so each chart starts from a cleared main
figure and clears it again when built: a chart never carries another's data, titles or subplots. (The
CLI draws one chart at a time on one thread; the workstation's charts are textual-plotext widgets, each
with its own figure.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def plotext_figure(width: int, height: int) -> Iterator[Any]:
    """plotext's module, on a fresh main figure of `width` x `height` cells; cleared again on exit."""
    import plotext as plt

    plt.main()  # back to the main figure (a previous chart may have left a subplot active)
    plt.clear_figure()
    try:
        plt.plot_size(width, height)
        yield plt
    finally:
        plt.main()
        plt.clear_figure()


def build(plt: Any) -> Any:
    """The figure as rich Text (colours kept), from the main figure."""
    from rich.text import Text

    plt.main()
    return Text.from_ansi(plt.build())
