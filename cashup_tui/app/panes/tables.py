"""A DataTable that syncs to a list of rows keyed by id, touching only changed cells; and the one rule
for fitting columns to a width (drop the least important first, then short headers; never cut a cell)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text
CELL_PAD = 2  # DataTable's padding around each cell


def fit_columns(columns: Sequence[str], cells: Sequence[Mapping[str, object]], width: int,
                drop_order: Sequence[str], short: Mapping[str, str] | None = None) -> tuple[tuple[str, ...], dict[str, str]]:
    """The columns (in order) whose widest cell fits `width` whole, and their header labels.

    Columns in `drop_order` go first-listed first until the rest fit; if they still do not, the headers
    in `short` are abbreviated (a header is never wider than needed, a number never cut)."""
    short = short or {}

    def need(k: str, label: str) -> int:
        return max([len(label)] + [len(str(c[k])) for c in cells]) + CELL_PAD

    cols = list(columns)
    labels = {k: k for k in cols}
    for name in drop_order:
        if width <= 0 or sum(need(k, k) for k in cols) <= width:
            break
        if name in cols:
            cols.remove(name)
    if width > 0 and sum(need(k, k) for k in cols) > width:
        labels = {k: short.get(k, k) for k in cols}
    return tuple(cols), {k: labels[k] for k in cols}


def keyed(columns: Sequence[str], rows: Sequence[tuple[str, Sequence[object]]]) -> list[tuple[str, dict[str, object]]]:
    """Positional rows as column -> cell maps, the form `SyncTable.sync_fitted` takes."""
    return [(key, dict(zip(columns, cells, strict=True))) for key, cells in rows]


class SyncTable(DataTable):
    """`sync(rows)` adds, removes and updates rows; unchanged cells are left alone."""

    def __init__(self, columns: Sequence[str], **kw: object) -> None:
        super().__init__(cursor_type="row", **kw)  # type: ignore[arg-type]
        self._columns = tuple(columns)
        self._cells: dict[str, tuple[str, ...]] = {}
        self._fitted: tuple[tuple[str, ...], dict[str, str]] | None = None

    def on_mount(self) -> None:
        for c in self._columns:
            self.add_column(c, key=c)

    def set_columns(self, columns: Sequence[str], labels: Mapping[str, str] | None = None) -> None:
        """Rebuild with other columns (a pane that fits its columns to its width); rows come back on sync.
        `labels`: headers other than the column keys (abbreviated on narrow terminals)."""
        self.clear(columns=True)
        self._columns = tuple(columns)
        self._cells.clear()
        for c in self._columns:
            self.add_column((labels or {}).get(c, c), key=c)

    def sync_fitted(self, columns: Sequence[str], rows: Sequence[tuple[str, Mapping[str, object]]],
                    drop_order: Sequence[str], short: Mapping[str, str] | None = None) -> None:
        """`sync` with the columns that fit this table's width (`fit_columns`); the cursor stays on its row."""
        width = self.scrollable_content_region.width or self.size.width
        cols, labels = fit_columns(columns, [c for _, c in rows], width, drop_order, short)
        if (cols, labels) != self._fitted:
            selected = self.selected_key
            self._fitted = (cols, labels)
            self.set_columns(cols, labels)
            self.sync([(key, [c[k] for k in cols]) for key, c in rows])  # type: ignore[misc]
            if selected is not None:
                self.select_key(selected)
            return
        self.sync([(key, [c[k] for k in cols]) for key, c in rows])  # type: ignore[misc]

    @property
    def columns_fitted(self) -> tuple[str, ...] | None:
        """The columns `sync_fitted` last chose (None before its first call)."""
        return None if self._fitted is None else self._fitted[0]

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
