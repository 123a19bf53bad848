"""The chart of accounts: BAS defaults for every role, each one configurable.

A *role* says what an account is used for ("payment.MOBIL" = the debit when
an order paid by MOBIL is posted, "sales.25.part" = parts sold at 25 % VAT).
The company's own choice is kept in ``book_settings``; without one, the BAS
default applies. Norwegian companies configure their own chart (NS 4102).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, col, select

from verkstad.audit import record
from verkstad.clock import now
from verkstad.db import Database
from verkstad.errors import ValidationError
from verkstad.i18n import N_, _
from verkstad.ledger.models import BookSetting
from verkstad.money import parse_minor
from verkstad.orders.status import PaymentMethod
from verkstad.users import Actor, Role, require_role

SALES_KINDS = ("part", "labour", "fee")
VAT_RATES = (25, 15, 12, 6, 0)
PROVIDERS = ("resurs", "vipps", "swish", "stripe")

_SALES_DEFAULTS = {25: ("3051", "3041", "3041"), 15: ("3002",) * 3, 12: ("3002",) * 3}
_SALES_DEFAULTS |= {6: ("3003",) * 3, 0: ("3004",) * 3}
_VAT_DEFAULTS = {25: "2611", 15: "2621", 12: "2621", 6: "2631"}
_FEE_DEFAULTS = {"resurs": "6064", "vipps": "6570", "swish": "6570", "stripe": "6570"}
_PAYMENT_DEFAULTS = {
    PaymentMethod.MOBIL: "1931",
    PaymentMethod.KONTANT: "1910",
    PaymentMethod.KORT: "1580",
    PaymentMethod.FAKTURA: "1510",
    PaymentMethod.MANUELL_MOBIL: "1930",
}


def _roles() -> dict[str, tuple[str, str]]:
    """role → (BAS default, description)."""
    roles: dict[str, tuple[str, str]] = {
        f"payment.{m.value}": (a, N_("Debit when an order paid this way is posted"))
        for m, a in _PAYMENT_DEFAULTS.items()
    }
    for rate, accounts in _SALES_DEFAULTS.items():
        for kind, account in zip(SALES_KINDS, accounts, strict=True):
            roles[f"sales.{rate}.{kind}"] = (account, N_("Sales credit per VAT rate and line kind"))
    for rate, account in _VAT_DEFAULTS.items():
        roles[f"vat.{rate}"] = (account, N_("Output VAT per rate"))
    roles["rounding"] = ("3740", N_("Öresavrundning (rounding of the total)"))
    roles["bank"] = ("1930", N_("Bank account the providers pay out to"))
    for provider, account in _FEE_DEFAULTS.items():
        roles[f"fee.{provider}"] = (account, N_("The provider's fee in a settlement"))
    roles["fee_vat"] = ("2641", N_("Input VAT on a provider's fee"))
    return roles


ROLES = _roles()

# BAS names (account names are data in Swedish, not translated text).
BAS_NAMES = {
    "1510": "Kundfordringar",
    "1580": "Fordringar för kontokort och kuponger",
    "1910": "Kassa",
    "1930": "Företagskonto/checkkonto/affärskonto",
    "1931": "Mobilbetalningar avräkning",
    "2611": "Utgående moms på försäljning inom Sverige, 25 %",
    "2621": "Utgående moms på försäljning inom Sverige, 12 %",
    "2631": "Utgående moms på försäljning inom Sverige, 6 %",
    "2641": "Debiterad ingående moms",
    "3001": "Försäljning inom Sverige, 25 % moms",
    "3002": "Försäljning inom Sverige, 12 % moms",
    "3003": "Försäljning inom Sverige, 6 % moms",
    "3004": "Försäljning inom Sverige, momsfri",
    "3041": "Försäljning tjänster 25 % sv",
    "3051": "Försäljning varor 25 % sv",
    "3740": "Öres- och kronutjämning",
    "6064": "Factoringavgifter",
    "6570": "Bankkostnader",
}

_ACCOUNT = re.compile(r"^[1-8]\d{3,5}$")
_NAME_PREFIX = "name."
_ROLE_PREFIX = "account."


@dataclass(frozen=True)
class Chart:
    """The accounts in force: every role resolved, and the names to show for them."""

    accounts: dict[str, str]
    names: dict[str, str]

    def __getitem__(self, role: str) -> str:
        return self.accounts[role]

    def name(self, account: str) -> str:
        return self.names.get(account) or BAS_NAMES.get(account, "")

    def payment(self, method: str) -> str:
        return self.accounts[f"payment.{method}"]

    def sales(self, rate: int, kind: str) -> str:
        return self.accounts[f"sales.{rate}.{kind if kind in SALES_KINDS else 'fee'}"]

    def vat(self, rate: int) -> str:
        return self.accounts[f"vat.{rate}"]


def load_chart(s: Session) -> Chart:
    stored = {b.key: b.value for b in s.exec(select(BookSetting))}
    accounts = {
        role: stored.get(_ROLE_PREFIX + role, default) for role, (default, _d) in ROLES.items()
    }
    names = {
        k.removeprefix(_NAME_PREFIX): v for k, v in stored.items() if k.startswith(_NAME_PREFIX)
    }
    return Chart(accounts, names)


def get_chart(db: Database) -> Chart:
    with db.read() as s:
        return load_chart(s)


@dataclass(frozen=True)
class AccountSettingView:
    role: str
    account: str
    default: str
    name: str
    description: str


def list_accounts(db: Database) -> list[AccountSettingView]:
    chart = get_chart(db)
    return [
        AccountSettingView(role, chart[role], default, chart.name(chart[role]), _(description))
        for role, (default, description) in ROLES.items()
    ]


def parse_account(text: str) -> str:
    value = text.strip()
    if not _ACCOUNT.match(value):
        raise ValidationError(_("Account"), _("4 to 6 digits, first digit 1–8 (BAS)"))
    return value


def set_account(
    db: Database, actor: Actor, role: str, account: str, name: str | None = None
) -> AccountSettingView:
    """Use ``account`` for ``role`` from now on (ADMIN); optionally name the account."""
    require_role(db, actor, "set_account", Role.ADMIN)
    if role not in ROLES:
        raise ValidationError(_("Role"), _("unknown; see `verkstad ledger accounts` for the roles"))
    number = parse_account(account)
    with db.session() as s:
        before = load_chart(s)[role]
        _put(s, actor, _ROLE_PREFIX + role, number)
        if name is not None and name.strip():
            from verkstad.orders.fields import clean_text

            _put(s, actor, _NAME_PREFIX + number, clean_text(name, _("Account name"), 100))
        record(s, actor, "book_settings", role, "set_account", before, number)
        chart = load_chart(s)
    default, description = ROLES[role]
    return AccountSettingView(role, number, default, chart.name(number), _(description))


def _put(s: Session, actor: Actor, key: str, value: str) -> None:
    setting = s.get(BookSetting, key)
    if setting is None:
        s.add(BookSetting(key=key, value=value, updated_by=actor.name))
    else:
        setting.value, setting.updated_at, setting.updated_by = value, now(), actor.name


def _terms(text: str) -> str:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or not 0 <= int(value) <= 365:
        raise ValidationError(_("Payment terms"), _("a whole number of days from 0 to 365"))
    return str(int(value))


def _series(text: str) -> str:
    value = text.strip().upper()
    if not re.match(r"^[A-Z0-9]{1,5}$", value):
        raise ValidationError(_("Verification series"), _("1 to 5 letters or digits"))
    return value


def _amount(text: str) -> str:
    return str(parse_minor(text, field=_("Amount")))


# Settings of the books other than accounts: key → (default, parser).
SETTINGS = {
    "invoice.terms_days": ("30", _terms),
    "sie.series": ("A", _series),
    # Refunds above this (in öre) need a PAYMENT_MANAGER or ADMIN; set it as "1 000".
    "refund.staff_limit": ("100000", _amount),
}


def setting(s: Session, key: str) -> str:
    row = s.exec(select(BookSetting).where(col(BookSetting.key) == key)).first()
    return row.value if row else SETTINGS[key][0]


def set_setting(db: Database, actor: Actor, key: str, value: str) -> str:
    """Change a setting of the books other than an account (ADMIN); returns the stored value."""
    require_role(db, actor, "set_setting", Role.ADMIN)
    if key not in SETTINGS:
        raise ValidationError(
            _("Setting"), _("must be one of: {choices}").format(choices=", ".join(SETTINGS))
        )
    parsed = SETTINGS[key][1](value)
    with db.session() as s:
        before = setting(s, key)
        _put(s, actor, key, parsed)
        record(s, actor, "book_settings", key, "set", before, parsed)
    return parsed
