"""The catalogues are complete and current (`python -m verkstad.i18n_catalogue update`)."""

from verkstad.i18n import _, set_language
from verkstad.i18n_catalogue import problems


def test_catalogues_are_current_and_complete():
    found = problems()
    assert not found, f"{len(found)} catalogue problems, e.g.:\n" + "\n".join(found[:20])


def test_swedish_translation_is_used():
    set_language("sv")
    assert _("Send mobile payment (SMS)") == "Skicka mobilbetalning (SMS)"
    assert _("Cancel payment SMS / Open order") == "Annullera betalnings-SMS / Öppna order"
    assert _("Time payment was received") == "Tidpunkt för mottagen betalning"
    assert _("Payment received") == "Betalning mottagen"
    set_language("nb")
    assert _("Payment received") != "Payment received"
