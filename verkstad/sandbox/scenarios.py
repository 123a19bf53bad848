"""Scripted customers, chosen by the last five digits of the phone number.

Any number works in the sandbox; a number ending in one of these suffixes
plays a scripted part (e.g. +46 70 129 99 01 or +47 912 99 901 is "not
registered"). Every other number is an ordinary customer who waits for the
actions you give on the phone page, over HTTP or with `verkstad sandbox`.
"""

from __future__ import annotations

from enum import StrEnum

from verkstad.i18n import N_


class Scenario(StrEnum):
    ORDINARY = "ordinary"
    NOT_REGISTERED = "not_registered"  # Vipps "Customer not found", Swish ACMT03
    INVALID_NUMBER = "invalid_number"  # Vipps "Invalid phone number", Swish BE18, SMS 400
    DECLINES = "declines"  # declines at once, every time
    NEVER_ANSWERS = "never_answers"  # gets the message, ignores it: the request expires
    PAYS_SECOND_TRY = "pays_second_try"  # the first attempt fails, the next one pays
    APPROVES = "approves"  # approves at once (handy for tests and demos)


SUFFIXES = {
    "99901": Scenario.NOT_REGISTERED,
    "99902": Scenario.INVALID_NUMBER,
    "99903": Scenario.DECLINES,
    "99904": Scenario.NEVER_ANSWERS,
    "99905": Scenario.PAYS_SECOND_TRY,
    "99906": Scenario.APPROVES,
}

DESCRIPTIONS = {
    Scenario.ORDINARY: N_("waits for your actions"),
    Scenario.NOT_REGISTERED: N_("not registered with the provider"),
    Scenario.INVALID_NUMBER: N_("the provider rejects the number as invalid"),
    Scenario.DECLINES: N_("declines every request at once"),
    Scenario.NEVER_ANSWERS: N_("never answers; the request expires"),
    Scenario.PAYS_SECOND_TRY: N_("the first attempt fails, the next one pays"),
    Scenario.APPROVES: N_("approves every request at once"),
}


def digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


def scenario_for(number: str | None) -> Scenario:
    if not number:
        return Scenario.ORDINARY
    return SUFFIXES.get(digits(number)[-5:], Scenario.ORDINARY)
