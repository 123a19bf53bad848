"""The cold-start reference: a bare Textual app with one DataTable, started like verkstad."""

from textual.app import App, ComposeResult
from textual.widgets import DataTable


class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Nr", "Kund", "Belopp")
        table.add_rows([(str(i), f"Kund {i}", f"{i},00 kr") for i in range(50)])
        self.call_after_refresh(self.exit)


if __name__ == "__main__":
    Bare().run()
