"""The catalogues are complete and current (`python -m verkstad.i18n_catalogue update`)."""

from verkstad.i18n import _, set_language, translation_for
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


def test_a_customers_language_applies_only_to_its_own_thread():
    import threading

    from verkstad.i18n import babel_locale, current_language, using_language

    inside, checked = threading.Event(), threading.Event()
    seen: list[str] = []

    def write_for_a_french_customer() -> None:
        with using_language("fr"):
            seen.append(_("Invoice"))
            inside.set()
            checked.wait(timeout=10)
        seen.append(_("Invoice"))

    worker = threading.Thread(target=write_for_a_french_customer)
    worker.start()
    assert inside.wait(timeout=10)
    staff = (_("Invoice"), current_language(), babel_locale())  # meanwhile, on this thread
    checked.set()
    worker.join()
    assert seen == [translation_for("fr").gettext("Invoice"), "Invoice"]
    assert staff == ("Invoice", "en", "en_GB")
