"""The sandbox's own state in one SQLite file (stdlib sqlite3), so it survives a restart.

Payments of every provider are JSON documents (the emulator's own state, from
which it renders the provider's wire object) with a few indexed columns for
lookups. Everything else the
emulated providers remember lives beside them: events, saved idempotent
responses, the phone's inbox, the e-mail inbox, the webhook queue, money movements for
settlement, and small settings (clock, faults, webhook switches).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS payments (
    provider TEXT NOT NULL,
    id TEXT NOT NULL,
    merchant_ref TEXT NOT NULL,
    human_ref TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    live INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (provider, id)
);
CREATE INDEX IF NOT EXISTS ix_payments_merchant_ref ON payments (merchant_ref);
CREATE INDEX IF NOT EXISTS ix_payments_human_ref ON payments (human_ref);
CREATE INDEX IF NOT EXISTS ix_payments_live ON payments (live);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_events_payment ON events (provider, payment_id);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body BLOB NOT NULL,
    headers TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_messages_number ON messages (number);
CREATE TABLE IF NOT EXISTS mails (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    address TEXT NOT NULL,
    message_id TEXT,
    doc TEXT NOT NULL,
    UNIQUE (address, message_id)
);
CREATE TABLE IF NOT EXISTS webhooks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    state TEXT NOT NULL,
    due_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_webhooks_state ON webhooks (state, due_at);
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_transactions ON transactions (provider, at);
"""

# Reset empties these; the settings in kv stay unless asked.
_STATE_TABLES = (
    "payments",
    "events",
    "idempotency",
    "messages",
    "mails",
    "webhooks",
    "transactions",
)


def _letters_and_digits(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


@dataclass
class Payment:
    """One provider payment: ``doc`` is the emulator's state, ``extra`` the sandbox's notes."""

    provider: str
    id: str
    merchant_ref: str
    state: str
    live: bool
    created_at: datetime
    doc: dict[str, Any]
    human_ref: str = ""
    phone: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # kept in doc["_sandbox"]


@dataclass(frozen=True)
class SavedResponse:
    request_hash: str
    status: int
    body: bytes
    headers: dict[str, str]


class Store:
    """Thread-safe access to the sandbox database; every method is one transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def reset(self, settings_too: bool = False) -> None:
        with self.transaction() as db:
            for table in _STATE_TABLES + (("kv",) if settings_too else ()):
                db.execute(f"DELETE FROM {table}")

    # ---------------------------------------------------------------- settings

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def put(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    # ---------------------------------------------------------------- payments

    def save(self, p: Payment) -> None:
        doc = dict(p.doc)
        doc["_sandbox"] = p.extra
        with self.transaction() as db:
            db.execute(
                "INSERT INTO payments (provider, id, merchant_ref, human_ref, phone, state, live, "
                "created_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (provider, id) DO UPDATE SET state = excluded.state, "
                "live = excluded.live, doc = excluded.doc, phone = excluded.phone",
                (
                    p.provider,
                    p.id,
                    p.merchant_ref,
                    p.human_ref,
                    p.phone,
                    p.state,
                    int(p.live),
                    p.created_at.isoformat(),
                    json.dumps(doc),
                ),
            )

    def payment(self, provider: str, payment_id: str) -> Payment | None:
        rows = self._payments("provider = ? AND id = ?", (provider, payment_id))
        return rows[0] if rows else None

    def payments_where(self, provider: str, merchant_ref: str) -> list[Payment]:
        return self._payments("provider = ? AND merchant_ref = ?", (provider, merchant_ref))

    def live_payments(self) -> list[Payment]:
        return self._payments("live = 1", ())

    def payments_of(self, provider: str) -> list[Payment]:
        return self._payments("provider = ?", (provider,))

    def payments_for_phone(self, number: str) -> list[Payment]:
        return self._payments("phone = ?", (number,))

    def find_payments(self, reference: str) -> list[Payment]:
        """Payments whose provider id, merchant reference or human reference is ``reference``.

        Compared on letters and digits only, case-blind: providers strip characters
        from references (Swish keeps no spaces or colons).
        """
        wanted = _letters_and_digits(reference)
        return [
            p
            for p in self._payments("1 = 1", ())
            if wanted
            and wanted in {_letters_and_digits(r) for r in (p.id, p.merchant_ref, p.human_ref)}
        ]

    def _payments(self, where: str, args: tuple[Any, ...]) -> list[Payment]:
        with self._lock:
            rows = self._db.execute(
                "SELECT provider, id, merchant_ref, human_ref, phone, state, live, created_at, doc "
                f"FROM payments WHERE {where} ORDER BY created_at, rowid",
                args,
            ).fetchall()
        out = []
        for provider, pid, mref, href, phone, state, live, created, doc_json in rows:
            doc = json.loads(doc_json)
            extra = doc.pop("_sandbox", {})
            out.append(
                Payment(
                    provider=provider,
                    id=pid,
                    merchant_ref=mref,
                    state=state,
                    live=bool(live),
                    created_at=datetime.fromisoformat(created),
                    doc=doc,
                    human_ref=href,
                    phone=phone,
                    extra=extra,
                )
            )
        return out

    # ---------------------------------------------------------------- events

    def add_event(self, provider: str, payment_id: str, event: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO events (provider, payment_id, doc) VALUES (?, ?, ?)",
                (provider, payment_id, json.dumps(event)),
            )

    def events(self, provider: str, payment_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM events WHERE provider = ? AND payment_id = ? ORDER BY seq",
                (provider, payment_id),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    # ---------------------------------------------------------------- idempotency

    def saved_response(self, scope: str, key: str) -> SavedResponse | None:
        with self._lock:
            row = self._db.execute(
                "SELECT request_hash, status, body, headers FROM idempotency "
                "WHERE scope = ? AND key = ?",
                (scope, key),
            ).fetchone()
        if row is None:
            return None
        return SavedResponse(row[0], row[1], bytes(row[2]), json.loads(row[3]))

    def save_response(self, scope: str, key: str, saved: SavedResponse, at: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO idempotency "
                "(scope, key, request_hash, status, body, headers, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    scope,
                    key,
                    saved.request_hash,
                    saved.status,
                    saved.body,
                    json.dumps(saved.headers),
                    at.isoformat(),
                ),
            )

    def forget_responses_before(self, scope: str, before: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                "DELETE FROM idempotency WHERE scope = ? AND created_at < ?",
                (scope, before.isoformat()),
            )

    # ---------------------------------------------------------------- the phone

    def add_message(self, number: str, message: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO messages (number, doc) VALUES (?, ?)", (number, json.dumps(message))
            )

    def messages(self, number: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            if number is None:
                rows = self._db.execute("SELECT number, doc FROM messages ORDER BY seq").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT number, doc FROM messages WHERE number = ? ORDER BY seq", (number,)
                ).fetchall()
        return [{"number": n, **json.loads(d)} for n, d in rows]

    # ---------------------------------------------------------------- the inbox

    def add_mail(self, address: str, message_id: str | None, mail: dict[str, Any]) -> bool:
        """Keep a received e-mail; False if this mailbox already has its Message-ID."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO mails (address, message_id, doc) VALUES (?, ?, ?)",
                (address, message_id, json.dumps(mail)),
            )
        return cursor.rowcount == 1

    def mails(self, address: str | None = None) -> list[dict[str, Any]]:
        """Received e-mails, oldest first, with ``seq`` and ``address``."""
        with self._lock:
            if address is None:
                rows = self._db.execute("SELECT seq, address, doc FROM mails ORDER BY seq")
            else:
                rows = self._db.execute(
                    "SELECT seq, address, doc FROM mails WHERE address = ? ORDER BY seq",
                    (address,),
                )
            found = rows.fetchall()
        return [{"seq": s, "address": a, **json.loads(d)} for s, a, d in found]

    # ---------------------------------------------------------------- webhooks

    def queue_webhook(
        self,
        provider: str,
        payment_id: str,
        due_at: datetime,
        doc: dict[str, Any],
        state: str = "PENDING",
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO webhooks (provider, payment_id, state, due_at, doc) "
                "VALUES (?, ?, ?, ?, ?)",
                (provider, payment_id, state, due_at.isoformat(), json.dumps(doc)),
            )

    def pending_webhooks(self) -> list[tuple[int, str, str, datetime, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, provider, payment_id, due_at, doc FROM webhooks "
                "WHERE state = 'PENDING' ORDER BY seq"
            ).fetchall()
        return [
            (s, p, pid, datetime.fromisoformat(d), json.loads(doc)) for s, p, pid, d, doc in rows
        ]

    def update_webhook(self, seq: int, state: str, due_at: datetime, doc: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE webhooks SET state = ?, due_at = ?, doc = ? WHERE seq = ?",
                (state, due_at.isoformat(), json.dumps(doc), seq),
            )

    def webhooks(self, limit: int = 200) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, provider, payment_id, state, due_at, doc FROM webhooks "
                "ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {
                "seq": s,
                "provider": p,
                "payment_id": pid,
                "state": st,
                "due_at": d,
                **json.loads(doc),
            }
            for s, p, pid, st, d, doc in rows
        ]

    # ---------------------------------------------------------------- money movements

    def add_transaction(self, provider: str, at: datetime, doc: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO transactions (provider, at, doc) VALUES (?, ?, ?)",
                (provider, at.isoformat(), json.dumps(doc)),
            )

    def transactions(self, provider: str) -> list[tuple[datetime, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT at, doc FROM transactions WHERE provider = ? ORDER BY at, seq", (provider,)
            ).fetchall()
        return [(datetime.fromisoformat(a), json.loads(d)) for a, d in rows]
