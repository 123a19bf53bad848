"""Table draws a one-line text cell exactly as Textual's DataTable does, only sooner."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from verkstad.screens.table import Table

CELLS = [
    Text("10023", end=""),
    Text("Kund [ny] AB", end=""),
    Text("", end=""),
    Text("Åsa Öberg-Lindqvist med ett mycket långt namn", end=""),  # cut to its column
    Text("1 234,50 kr", end="", style="bold"),
    Text.assemble(("Mobil", "red"), " betald", end=""),
    Text("寿司寿司寿司寿司寿司寿司寿司寿司寿司寿司寿司", end=""),  # wide, cut mid-character
    Text("ellipsis when cut short, please", end="", overflow="ellipsis"),
    Text("höger", end="", justify="right"),  # not ours to draw: DataTable's way
    Text("två\nrader", end=""),  # likewise
    Text("with its end", end="\n"),  # likewise
]


class Probe(App[None]):
    def compose(self) -> ComposeResult:
        yield Table(zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(Table)
        table.add_columns("A", "B", "C")
        for i in range(0, len(CELLS), 3):
            table.add_row(*(CELLS[i : i + 3] + [Text("", end="")] * 3)[:3])
        for column, width in zip(table.ordered_columns, (6, 14, 3), strict=True):
            column.width, column.auto_width = width, False


async def test_each_cell_in_each_state_is_drawn_as_datatable_draws_it(monkeypatch):
    handed_over: list[int] = []  # cells Table left to DataTable's own drawing
    drawn_by_datatable = DataTable._render_cell

    def spy(table, row, *args):  # type: ignore[no-untyped-def]
        handed_over.append(row)
        return drawn_by_datatable(table, row, *args)

    app = Probe()
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(Table)
        compared = 0
        for row in range(table.row_count):
            for column, spec in enumerate(table.ordered_columns):
                width = spec.get_render_width(table)
                for cursor in (False, True):
                    for hover in (False, True):
                        base = Style(bgcolor="#202020") if row % 2 else Style()
                        table._cell_render_cache.clear()
                        theirs = DataTable._render_cell(
                            table, row, column, base, width, cursor, hover
                        )
                        table._cell_render_cache.clear()
                        monkeypatch.setattr(DataTable, "_render_cell", spy)
                        ours = table._render_cell(row, column, base, width, cursor, hover)
                        monkeypatch.setattr(DataTable, "_render_cell", drawn_by_datatable)
                        assert ours == theirs, (row, column, cursor, hover)
                        compared += 1
        assert compared == table.row_count * 3 * 4
        assert len(handed_over) == 3 * 4  # the justified, two-line and ended cells only
