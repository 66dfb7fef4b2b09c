"""A DataTable that syncs to a list of rows keyed by id, touching only changed cells."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text


class SyncTable(DataTable):
    """`sync(rows)` adds, removes and updates rows; unchanged cells are left alone."""

    def __init__(self, columns: Sequence[str], **kw: object) -> None:
        super().__init__(cursor_type="row", **kw)  # type: ignore[arg-type]
        self._columns = tuple(columns)
        self._cells: dict[str, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for c in self._columns:
            self.add_column(c, key=c)

    def set_columns(self, columns: Sequence[str]) -> None:
        """Rebuild with other columns (a pane that fits its columns to its width); rows come back on sync."""
        self.clear(columns=True)
        self._columns = tuple(columns)
        self._cells.clear()
        for c in self._columns:
            self.add_column(c, key=c)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        row = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return None if row.value is None else str(row.value)

    def select_key(self, key: str) -> bool:
        """Move the cursor to the row with this key (if present)."""
        for i, row_key in enumerate(self.rows):
            if row_key.value == key:
                self.move_cursor(row=i)
                return True
        return False

    def sync(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        wanted = {key for key, _ in rows}
        for key in [k for k in self._cells if k not in wanted]:
            self.remove_row(key)
            del self._cells[key]
        added = False
        for key, cells in rows:
            plain = tuple(str(c) for c in cells)
            old = self._cells.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                added = True
            elif old != plain:
                for col, before, after, cell in zip(self._columns, old, plain, cells, strict=True):
                    if before != after:
                        self.update_cell(key, col, cell, update_width=True)
            self._cells[key] = plain
        if added:  # size columns to the new rows now, not when the table next goes idle (it may not soon)
            self._require_update_dimensions = False
            new_rows, self._new_rows = set(self._new_rows), set()
            self._update_dimensions(new_rows)
            self._line_cache.clear()  # lines drawn before the widths grew must not be reused
            self.refresh()
