"""A second cold-start reference: the order list's widgets and stylesheet, with no verkstad
code at all (no settings, no database, no Babel): a header, the one-line filter bar (three
compact inputs and two one-line labels styled as verkstad's drop-downs), the status line,
a nine-column table of 40 rows and the footer. What verkstad costs beyond this is its own
work; what this costs beyond bare_app.py is Textual drawing that screen."""

from pathlib import Path

from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

CSS = Path(__file__).resolve().parents[1] / "verkstad" / "app.tcss"
# verkstad's drop-down (ChoiceField) as it looks closed: one line, the prompt and an arrow.
CHOICE = "Static.choice { width: auto; height: 1; padding-left: 1; background: $boost; }"
COLUMNS = ("Nr", "Kundnr", "Kundnamn", "Regnr", "Status", "Belopp", "Betalsätt", "Betald", "Tid")


class ListScreenApp(App[None]):
    CSS_PATH = str(CSS)
    CSS = CHOICE

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters", classes="filter-bar"):
            yield Input(placeholder="Sök (nr, namn, regnr)", id="search", compact=True)
            yield Static("Alla statusar ▾", id="status", classes="choice")
            yield Static("Betald eller ej ▾", id="paid", classes="choice")
            yield Input(placeholder="Betald från", id="received-from", compact=True)
            yield Input(placeholder="Betald t.o.m.", id="received-to", compact=True)
        yield Label("Sida 1", id="list-status")
        yield DataTable(id="orders", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.add_rows(
            (
                str(1000 + i),
                str(20000 + i),
                f"Kund {i} Öberg",
                f"ABC{i:03d}",
                "BOKFÖRD",
                f"{i} 234,50 kr",
                "MOBIL",
                "✓",
                "2026-03-05 14:07",
            )
            for i in range(40)
        )
        table.focus()
        self.call_after_refresh(self.exit)


if __name__ == "__main__":
    ListScreenApp().run()
