"""Tables whose one-line text cells are drawn straight to segments.

Textual's DataTable draws every cell through Rich's generic pipeline (a padding around
the cell, a style sandwich, a console render with its options, lines split and
cropped), about a third of a millisecond per cell: with nine columns that was the
largest single cost of the order list's first paint (BENCHMARKS.md). Our cells are
plain one-line ``Text`` (``plain_row``); for them ``Table`` makes the same segments
directly: the text cut to the column as Rich cuts it, padded, under the same styles.
Anything else (the header, labels, taller rows, other renderables, tabs, a justified
or wrapping text) goes through DataTable's own drawing. This leans on DataTable's
internals (its cell cache and style helpers) as Textual 8.2.8 has them, the version
pyproject pins; tests/screens/test_table.py compares the two drawings cell by cell, so
an upgrade that changes them fails there first.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._types import SegmentLines
from textual.widgets import DataTable
from textual.widgets._data_table import CellCacheKey


class Table(DataTable[Text]):
    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        row_key = self._row_locations.get_key(row_index)  # None: the header
        column_key = self._column_locations.get_key(column_index)  # None: a row label
        if row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        cache_key: CellCacheKey = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        if cache_key in self._cell_render_cache:
            return self._cell_render_cache[cache_key]
        cell = self._get_row_renderables(row_index)[1][column_index]
        padding = self.cell_padding
        room = width - 2 * padding
        options = self.app.console_options
        if not (
            isinstance(cell, Text)
            and self.rows[row_key].height == 1
            and room > 0
            and not cell.end
            and cell.no_wrap is not False
            and (cell.justify or options.justify or "default") == "default"
            and "\n" not in cell.plain
            and "\t" not in cell.plain
        ):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            row_index < self.fixed_rows or column_index < self.fixed_columns,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        style = base_style + Style.from_meta({"row": row_index, "column": column_index}) + style
        text = cell.copy()
        text.truncate(room, overflow=cell.overflow or options.overflow or "fold")
        spaces = Segment(" " * padding)
        segments = [spaces, *Text("\n").join([text]).render(self.app.console), spaces]
        short = room - text.cell_len
        if short > 0:
            segments.insert(-1, Segment(" " * short))
        line = [Segment(s.text, style + s.style + post_style) for s in segments]
        self._cell_render_cache[cache_key] = lines = [line]
        return lines
