"""Which layout the terminal's size gets (app classes the stylesheet and panes key on), decided on every
resize. By priority: 80x24 keeps one pane with what matters; each step up adds, never blanks."""

from __future__ import annotations

# class -> (min columns, min rows)
WIDER = {
    "-wide": (140, 40),  # the side panel: positions and open orders next to any tab
    "-xwide": (160, 48),  # the side panel adds the depth chart and the newest fills
    "-huge": (240, 60),  # the market pane adds a second (higher-timeframe) chart; a wider side panel
}
SHORT_ROWS = 30  # below this many rows dialogs drop their spacing lines (the ticket's buttons stay on screen)


def size_classes(width: int, height: int) -> dict[str, bool]:
    """class name -> on/off for a terminal of `width` x `height` cells."""
    out = {name: width >= w and height >= h for name, (w, h) in WIDER.items()}
    out["-short"] = height < SHORT_ROWS
    return out
