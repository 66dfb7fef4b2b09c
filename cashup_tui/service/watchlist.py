"""The watchlist edited while the workstation runs (`/` adds a contract, `delete` removes one).

Why the settings file keeps it (ui.watchlist, through service/config_edit.py) rather than the store's
kv: the file is what every start reads and what the user sees and edits (`cashup config show`, the
Settings view); the store is per mode family, so a watchlist kept there would differ between demo and
live and hide from the file that claims to define it. Only the change is written (the symbol added to
or removed from the file's list), so a session opened with `--symbols` does not overwrite the file's list.
"""

from __future__ import annotations

from typing import Any

from cashup_tui.domain.errors import ValidationError
from cashup_tui.service.config_edit import ConfigFile
from cashup_tui.service.strategies import ensure_market

WATCHLIST = "ui.watchlist"


class WatchlistMixin:
    """For EngineWorkstation: `_symbols` is the watchlist the Market pane shows; `node` the runtime node."""

    _symbols: list[str]
    node: Any
    config: ConfigFile | None = None  # set by the composition root (`cashup tui`); None: this session only

    async def watch(self, symbol: str) -> str:
        """Add a contract the venue lists: its ticker and book are subscribed at once; saved for next time."""
        listed = self.node.instruments if self.node is not None else {}
        if listed and symbol not in listed:
            raise ValidationError(f"{symbol} is not listed by this venue", hint="pick a contract from the search list")
        if symbol not in self._symbols:
            self._symbols.append(symbol)
            if self.node is not None:
                await ensure_market(self.node, symbol, timeout_s=0)
        return f"{symbol} on the watchlist" + self._persist(symbol, add=True)

    async def unwatch(self, symbol: str) -> str:
        """Drop a contract from the watchlist (its stream stays: a strategy or position may use it)."""
        if symbol not in self._symbols:
            raise ValidationError(f"{symbol} is not on the watchlist")
        if len(self._symbols) == 1:
            raise ValidationError("the watchlist needs at least one contract", hint="add another with / first")
        self._symbols.remove(symbol)
        return f"{symbol} removed from the watchlist" + self._persist(symbol, add=False)

    def _persist(self, symbol: str, *, add: bool) -> str:
        if self.config is None:
            return " (this session only: no settings file)"
        items = self.config.items(WATCHLIST)
        if add and symbol not in items:
            change = self.config.add_item(WATCHLIST, symbol)
        elif not add and symbol in items:
            change = self.config.remove_item(WATCHLIST, items.index(symbol))
        else:
            return f" (already so in {self.config.path})"
        return f" (saved to {change.path})" + (f"; note: {change.env} overrides it here" if change.env else "")
