"""Every kind of payment event the services record has a label for the history (F6 in
Betalningar, `verkstad payments show`): the raw kinds are English identifiers."""

import re
from pathlib import Path

from verkstad.clock import now
from verkstad.mpay.status import EVENT_LABELS
from verkstad.mpay.views import EventView

MPAY = Path(__file__).resolve().parents[2] / "verkstad" / "mpay"


def recorded_kinds() -> set[str]:
    source = "\n".join(p.read_text(encoding="utf-8") for p in MPAY.glob("*.py"))
    kinds = set(re.findall(r'_event\(\s*s,\s*[^,]+,\s*actor,\s*"([a-z_]+)"', source))
    kinds |= set(re.findall(r'apply_status\([^)]*,\s*"([a-z_]+)"\)', source))
    kinds |= {f"{k}_requested" for k in re.findall(r'_operation\([^)]*?"([a-z]+)"', source)}
    return kinds | {"status", "created"}  # apply_status's default; the create's own call


def test_every_recorded_event_kind_has_a_label():
    kinds = recorded_kinds()
    assert {"late", "captured", "cancel_requested", "refund_requested"} <= kinds  # found
    assert kinds <= set(EVENT_LABELS), kinds - set(EVENT_LABELS)


def test_the_label_is_translated_and_an_unknown_kind_shows_as_it_is():
    from verkstad import i18n

    event = EventView(now(), "anna", "capture_requested", "RESERVED", "")
    with i18n.using_language("sv"):
        assert event.kind_label != "capture asked for" and event.state_label
    assert EventView(now(), "anna", "something_new", None, "").kind_label == "something_new"
