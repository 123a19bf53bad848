"""The order log in words: what changed, with the field names and values staff know."""

from tests.helpers import customer, order_with_lines
from verkstad.i18n import using_language
from verkstad.orders import service
from verkstad.orders.log_text import log_change
from verkstad.orders.service import LineInput, VehicleInput


def _changes(db, number: int) -> list[tuple[str, str, str]]:
    return [
        (e["action"], *log_change(e["before"], e["after"]))
        for e in service.order_history(db, number)
    ]


def test_a_changed_line_shows_only_what_changed_in_its_own_words(db, admin):
    order = order_with_lines(db, admin, customer(db, admin))
    line = order.lines[0]
    service.update_line(
        db, admin, order.number, line.id, LineInput("Bromsbelägg", "2", "1 199,20", "25", "part")
    )
    changes = _changes(db, order.number)
    assert changes[-1] == ("update_line", "Quantity: 1", "Quantity: 2")
    added = next(c for c in changes if c[0] == "add_line")
    assert added[1] == ""
    assert added[2].startswith("Description: Bromsbelägg, Quantity: 1, Unit: st")
    assert "Unit price excl. VAT: 1,199.20" in added[2]  # öre as an amount, not 119920
    assert "Kind: Part" in added[2] and "Art. no." not in added[2]  # (none was given)
    assert "{" not in added[2] and "_minor" not in added[2]


def test_statuses_notes_and_deleted_lines_read_as_words(db, admin):
    order = order_with_lines(db, admin, customer(db, admin))
    service.update_order(db, admin, order.number, notes="Ring före")
    service.delete_line(db, admin, order.number, order.lines[1].id)
    service.complete(db, admin, order.number)
    changes = _changes(db, order.number)
    assert ("update", "Notes: —", "Notes: Ring före") in changes
    deleted = next(c for c in changes if c[0] == "delete_line")
    assert "Description: Arbete" in deleted[1] and deleted[2] == ""
    assert changes[-1] == ("complete", "ÖPPEN", "KLART")


def test_a_changed_vehicle_is_logged_by_its_registration(db, admin):
    number = customer(db, admin)
    service.add_vehicle(db, admin, number, VehicleInput("ABC123", "Volvo", "V70"))
    service.add_vehicle(db, admin, number, VehicleInput("XYZ789", "Saab", "9-3"))
    order = service.create_order(db, admin, number, "ABC123")
    service.update_order(db, admin, order.number, vehicle_reg="XYZ789")
    service.update_order(db, admin, order.number, vehicle_reg="")
    changes = _changes(db, order.number)
    assert changes[-2:] == [
        ("update", "Vehicle: ABC123", "Vehicle: XYZ789"),
        ("update", "Vehicle: XYZ789", "Vehicle: —"),
    ]


def test_the_words_are_translated():
    with using_language("sv"):
        assert log_change({"quantity_milli": 1500}, {"quantity_milli": 2000}) == (
            "Antal: 1,5",
            "Antal: 2",
        )
