"""What the user typed is shown as text, never read as markup.

Textual reads a ``str`` as markup almost everywhere: a DataTable cell (Rich markup, with
``:emoji:`` codes), a Static or Label and its ``update``, a notification, a Select's or an
OptionList's labels. A customer named "Kund [ny] AB" lost "[ny]", and one with "[/bil]" in
a name, a line or a note stopped the screen's paint with a MarkupError. So:

- a DataTable row is ``add_row(*plain_row(...))``, its cells (and a Select's labels)
  ``plain(value)``, a Rich ``Text`` shown as is;
- a Static or Label that shows only data or messages has ``markup=False`` (notifications
  are always plain text: ``VerkstadApp.notify``);
- where our own markup (``[b]…[/b]``) surrounds data, the data goes in through ``escape``.
"""

from __future__ import annotations

from rich.text import Text


def plain(value: str | Text) -> Text:
    """A cell or label showing ``value`` exactly (a ``Text`` is already so)."""
    if isinstance(value, Text):
        return value
    return Text(value, end="")  # as Textual's own cell formatter makes it, without the markup


def plain_row(*values: str | Text) -> list[Text]:
    """A DataTable row's cells: ``table.add_row(*plain_row(a, b), key=...)``."""
    return [plain(value) for value in values]


def escape(value: object) -> str:
    """``value`` as literal text inside Textual content markup: every "[" escaped.

    Not ``rich.markup.escape``: it leaves "[Ny]", "[Kund AB]" or "[ b ]" alone, which Textual's
    markup reads as tags (the text vanishes, or the paint fails). Textual has no escape for a
    backslash, so a value ending in one must not stand right before a tag (none does here).
    """
    return str(value).replace("[", r"\[")
