"""``python -m benchmarks [--quick] [--no-pg]``: verkstad's speed as ratios to the physical limit.

Each figure is measured several times; the table shows verkstad's median, the
reference measured in the same run (raw SQL on the same file, a bare Textual
app, …), their ratio, the goal and whether it is met. Data comes from
``verkstad demo seed`` and is kept in benchmarks/data/ between runs.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PG_URL = os.environ.get("VERKSTAD_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1/test")


@dataclass
class Row:
    figure: str
    ours: float  # seconds (or MB for memory)
    reference: float | None
    goal: str
    ok: bool
    unit: str = "ms"

    def cells(self) -> list[str]:
        scale = 1000 if self.unit == "ms" else 1
        ours = f"{self.ours * scale:.1f} {self.unit}"
        ref = f"{self.reference * scale:.1f} {self.unit}" if self.reference else "—"
        ratio = f"{self.ours / self.reference:.2f}×" if self.reference else "—"
        return [self.figure, ours, ref, ratio, self.goal, "pass" if self.ok else "FAIL"]


def median_time(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm caches, connections and imports: we measure the steady state
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def seeded_sqlite(orders: int) -> Path:
    path = DATA / f"orders-{orders}.db"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        run_cli(["--db", f"sqlite:///{path}", "demo", "seed", "--orders", str(orders)])
        print(f"seeded {orders} orders in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def run_cli(args: list[str], env: dict[str, str] | None = None) -> None:
    verkstad = Path(sys.executable).with_name("verkstad")
    subprocess.run([str(verkstad), *args], check=True, env=env, stdout=subprocess.DEVNULL)


def _month() -> tuple[datetime, datetime]:
    return datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


RAW_COLUMNS = (
    "orders.id, orders.number, customers.number, customers.name, vehicles.reg_number, "
    "orders.status, orders.total_minor, orders.currency, orders.payment_method, "
    "orders.payment_received, orders.payment_received_at, orders.created_at, orders.invoice_number"
)
RAW_FROM = (
    "FROM orders JOIN customers ON customers.id = orders.customer_id "
    "LEFT OUTER JOIN vehicles ON vehicles.id = orders.vehicle_id"
)


def list_figures(
    url: str,
    label: str,
    raw: Callable[[str, tuple[object, ...]], list[object]],
    runs: int,
    placeholder: str,
) -> list[Row]:
    """First page and a deep page of "paid, received in March, sorted by received time"."""
    from verkstad.db import Database
    from verkstad.orders.queries import OrderFilter, list_orders

    db = Database(url)
    start, end = _month()
    flt = OrderFilter(received=True, received_from=start, received_to=end)
    size = 50

    def ours_first() -> object:
        return list_orders(db, flt, "received_at", False, None, size)

    p = placeholder
    first_sql = (
        f"SELECT {RAW_COLUMNS} {RAW_FROM} WHERE orders.payment_received AND "
        f"orders.payment_received_at >= {p} AND orders.payment_received_at < {p} "
        f"ORDER BY orders.payment_received_at, orders.id LIMIT {size + 1}"
    )
    naive = (start.replace(tzinfo=None), end.replace(tzinfo=None))
    rows = [
        Row(
            f"{label}: first page",
            t := median_time(ours_first, runs),
            r := median_time(lambda: raw(first_sql, naive), runs),
            "≤ 1.5× and < 50 ms",
            t <= 1.5 * r and t < 0.050,
        ),
    ]
    cursor = None
    for _ in range(20):  # walk 20 pages in, as a user paging down would
        cursor = list_orders(db, flt, "received_at", False, cursor, size).next
    assert cursor is not None, "the benchmark month has too few paid orders"
    deep_sql = (
        f"SELECT {RAW_COLUMNS} {RAW_FROM} WHERE orders.payment_received AND "
        f"orders.payment_received_at >= {p} AND orders.payment_received_at < {p} AND "
        f"(orders.payment_received_at, orders.id) > ({p}, {p}) "
        f"ORDER BY orders.payment_received_at, orders.id LIMIT {size + 1}"
    )
    deep_args = (*naive, cursor.value.replace(tzinfo=None), cursor.id)
    rows.append(
        Row(
            f"{label}: page 21 (keyset)",
            t := median_time(
                lambda: list_orders(db, flt, "received_at", False, cursor, size), runs
            ),
            r := median_time(lambda: raw(deep_sql, deep_args), runs),
            "≤ 1.5×",
            t <= 1.5 * r,
        )
    )
    db.dispose()
    return rows


def sqlite_figures(path: Path, runs: int) -> list[Row]:
    conn = sqlite3.connect(path)

    def raw(sql: str, args: tuple[object, ...]) -> list[object]:
        # Bind times exactly as SQLAlchemy stores them in SQLite.
        values = [
            a.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(a, datetime) else a for a in args
        ]
        return conn.execute(sql, values).fetchall()

    rows = list_figures(f"sqlite:///{path}", "SQLite", raw, 30, "?")
    conn.close()
    return rows


def pg_figures(orders: int, runs: int) -> list[Row]:
    import psycopg
    from sqlalchemy import create_engine, text

    schema = f"bench_{orders}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        exists = c.execute(
            text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
        ).first()
        if not exists:
            c.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    if not exists:
        started = time.perf_counter()
        run_cli(["--db", url, "demo", "seed", "--orders", str(orders)])
        print(
            f"seeded {orders} orders on PostgreSQL in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    conn = psycopg.connect(PG_URL.replace("+psycopg", ""), options=f"-csearch_path={schema}")

    def raw(sql: str, args: tuple[object, ...]) -> list[object]:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    rows = list_figures(url, "PostgreSQL", raw, 30, "%s")
    conn.close()
    return rows


def start_figures(path: Path, runs: int) -> list[Row]:
    """Cold start to the first painted list, against a bare Textual app with one DataTable."""
    env = {
        **os.environ,
        "VERKSTAD_EXIT_AFTER_FIRST_PAINT": "1",
        "VERKSTAD_USER": "admin",
        "VERKSTAD_DATABASE_URL": f"sqlite:///{path}",
    }
    verkstad = str(Path(sys.executable).with_name("verkstad"))
    bare = [sys.executable, str(HERE / "bare_app.py")]

    def in_pty(cmd: list[str]) -> Callable[[], None]:
        def run() -> None:
            subprocess.run(
                ["script", "-qec", " ".join(cmd), "/dev/null"],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
            )

        return run

    ours = median_time(in_pty([verkstad]), runs)
    ref = median_time(in_pty(bare), runs)
    return [Row("cold start to first painted list", ours, ref, "≤ 1.5×", ours <= 1.5 * ref)]


def memory_figure(path: Path) -> list[Row]:
    out = subprocess.run(
        [sys.executable, str(HERE / "tui_memory.py"), f"sqlite:///{path}"],
        check=True,
        capture_output=True,
        text=True,
    )
    mb = float(out.stdout.strip())
    return [Row("TUI resident memory, list scrolled", mb, None, "< 150 MB", mb < 150, unit="MB")]


def print_table(rows: list[Row], orders: int) -> None:
    head = ["figure", "verkstad", "reference", "ratio", "goal", "result"]
    cells = [r.cells() for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    print(f"\nverkstad benchmarks — {orders:,} orders — {os.cpu_count()} cores\n".replace(",", " "))
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="100 000 orders instead of 1 000 000")
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL figures")
    args = parser.parse_args()
    orders = 100_000 if args.quick else 1_000_000
    path = seeded_sqlite(orders)
    rows = sqlite_figures(path, 30)
    if not args.no_pg:
        rows += pg_figures(orders, 30)
    rows += start_figures(path, 3 if args.quick else 5)
    rows += memory_figure(path)
    print_table(rows, orders)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
