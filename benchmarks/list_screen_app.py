"""A second cold-start reference: the order list's widgets and stylesheet, with no verkstad
code at all (no settings, no database, no Babel): a header, the five filter fields, the
status line, a nine-column table of 40 rows and the footer. What verkstad costs beyond
this is its own work; what this costs beyond bare_app.py is Textual drawing that screen."""

from pathlib import Path

from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, Label, Select

CSS = Path(__file__).resolve().parents[1] / "verkstad" / "app.tcss"
COLUMNS = ("Nr", "Kundnr", "Kundnamn", "Regnr", "Status", "Belopp", "Betalsätt", "Betald", "Tid")


class ListScreenApp(App[None]):
    CSS_PATH = str(CSS)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            yield Input(placeholder="Sök (nr, namn, regnr)", id="search")
            yield Select([("ÖPPEN", "ÖPPEN"), ("KLART", "KLART")], prompt="Alla", id="status")
            yield Select([("Mottagen", "yes"), ("Ej mottagen", "no")], prompt="Betald?", id="paid")
            yield Input(placeholder="Betald från", id="received-from")
            yield Input(placeholder="Betald till", id="received-to")
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
