"""F1 lists every action on a line of its own: at 80 columns in Swedish, English and
Norwegian; French's longest label ("Annuler le SMS de paiement / Rouvrir la commande")
needs 100."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from tests.screens.conftest import wait_until
from verkstad.i18n import LANGUAGES, _, set_language
from verkstad.screens.help import SCOPES, HelpScreen
from verkstad.screens.order_list import OrderListScreen


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_each_action_stays_on_its_line(make_app, lang):
    set_language(lang)
    app = make_app()
    async with app.run_test(size=(100 if lang == "fr" else 80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, OrderListScreen))
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = app.screen.query_one(Static)
        await wait_until(pilot, lambda: text.size.height > 0, "the laid-out list")
        lines = str(text.render()).split("\n")
        assert any("command_palette" in line for line in lines)
        assert lines[2] == _(SCOPES["app"])  # in the language chosen, not the one at import
        assert text.size.height == len(lines)  # none wrapped onto a second line
