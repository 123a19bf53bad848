"""``python -m benchmarks [--quick] [--no-pg]``: verkstad's speed as ratios to the physical limit.

Each figure is measured several times; the table shows verkstad's median, the
reference measured in the same run (raw SQL on the same file, a bare Textual
app, …), their ratio, the goal and whether it is met. Data comes from
``verkstad demo seed`` and is kept in benchmarks/data/ between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
    ours: float | None  # seconds (or MB for memory); None: not measured (see goal)
    reference: float | None
    goal: str
    ok: bool
    unit: str = "ms"
    result: str | None = None  # instead of pass/FAIL (a figure that is only reported)

    def cells(self) -> list[str]:
        scale = 1000 if self.unit == "ms" else 1
        ours = f"{self.ours * scale:.1f} {self.unit}" if self.ours is not None else "—"
        ref = f"{self.reference * scale:.1f} {self.unit}" if self.reference else "—"
        ratio = (
            f"{self.ours / self.reference:.2f}×"
            if self.reference and self.ours is not None
            else "—"
        )
        result = self.result or ("pass" if self.ok else "FAIL")
        return [self.figure, ours, ref, ratio, self.goal, result]


def median_time(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm caches, connections and imports: we measure the steady state
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def seeded_sqlite(orders: int) -> Path:
    """The demo database of ``orders`` orders, seeded once and kept; the seed's time and
    peak memory are kept beside it (``.seed.json``) for the seed figure."""
    path = DATA / f"orders-{orders}.db"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        seconds, peak = run_cli(
            ["--db", f"sqlite:///{path}", "demo", "seed", "--orders", str(orders)]
        )
        note = {"seconds": seconds, "peak_mb": peak, "load": os.getloadavg()[0], "at": _today()}
        path.with_suffix(".seed.json").write_text(json.dumps(note))
        print(f"seeded {orders} orders in {seconds:.1f} s", file=sys.stderr)
    return path


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def run_cli(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``verkstad ARGS``; returns its wall time (s) and peak resident memory (MB)."""
    verkstad = Path(sys.executable).with_name("verkstad")
    return timed([str(verkstad), *args], env)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run a command (stdout discarded): wall seconds and the peak RSS of that process (MB)."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, cmd)
    return seconds, usage.ru_maxrss / 1024


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


# Terminals of a known size, as a counter's is (a pty of size 0×0 made Textual lay out a
# guessed 80×25 first and then the real 80×24: a resize the bare app ignores but the list
# answers with a second page of the new size).
TERMINALS = ((80, 24), (120, 40))


def start_figures(path: Path, runs: int) -> list[Row]:
    """Cold start to the first painted list, against a bare Textual app with one DataTable,
    in the classic 80×24 terminal and in a 120×40 one (more rows and columns to draw).
    Each app is started through painted.py, which notes when the first screen is painted:
    the figure is the process's whole run, start to exit; the start to the paint alone is
    shown below it."""
    env = {
        **os.environ,
        "VERKSTAD_EXIT_AFTER_FIRST_PAINT": "1",
        "VERKSTAD_USER": "admin",
        "VERKSTAD_DATABASE_URL": f"sqlite:///{path}",
    }
    apps = ("verkstad", str(HERE / "bare_app.py"), str(HERE / "list_screen_app.py"))
    painted_at = DATA / "painted-at"

    def in_pty(app: str, columns: int, lines: int) -> tuple[float, float]:
        """The start's wall time to its exit and to its first paint."""
        painted_at.unlink(missing_ok=True)
        cmd = f"{sys.executable} {HERE / 'painted.py'} {app}"
        started_at, started = time.time(), time.perf_counter()
        subprocess.run(
            ["script", "-qec", f"stty rows {lines} cols {columns}; {cmd}", "/dev/null"],
            env={**env, "PAINTED_AT": str(painted_at)},
            check=True,
            stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            timeout=60,  # a start that never exits fails the run rather than hanging it
        )
        ended = time.perf_counter() - started
        return ended, float(painted_at.read_text()) - started_at

    # verkstad's bytecode, as an install has it (pip compiles what it installs, Textual
    # included): an editable checkout under PYTHONDONTWRITEBYTECODE compiles every start.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "verkstad")])
    rows: list[Row] = []
    for columns, lines in TERMINALS:
        times: dict[str, list[tuple[float, float]]] = {app: [] for app in apps}
        for app in apps:  # warm the file cache
            in_pty(app, columns, lines)
        for _ in range(runs):  # alternate, so load from elsewhere hits all three alike
            for app in apps:
                times[app].append(in_pty(app, columns, lines))
        (t, tp), (r, rp), (w, _wp) = (
            (
                statistics.median(x[0] for x in times[app]),
                statistics.median(x[1] for x in times[app]),
            )
            for app in apps
        )
        rows += [
            Row(
                f"cold start to first painted list, {columns}×{lines}", t, r, "≤ 1.5×", t <= 1.5 * r
            ),
            Row("  the same, timed to the paint", tp, rp, "≤ 1.5×", tp <= 1.5 * rp),
            Row(
                "  the same widgets without verkstad (list_screen_app.py)",
                w,
                r,
                "reference",
                True,
                result="—",
            ),
        ]
    return rows


def memory_figure(path: Path) -> list[Row]:
    out = subprocess.run(
        [sys.executable, str(HERE / "tui_memory.py"), f"sqlite:///{path}"],
        check=True,
        capture_output=True,
        text=True,
    )
    mb = float(out.stdout.strip())
    return [Row("TUI resident memory, list scrolled", mb, None, "< 150 MB", mb < 150, unit="MB")]


EXPORT_SQL = (
    "SELECT orders.number, customers.number, customers.name, vehicles.reg_number, "
    "orders.status, orders.total_minor, orders.currency, orders.payment_method, "
    "orders.payment_received, orders.payment_received_at, orders.created_at, "
    f"orders.invoice_number {RAW_FROM} ORDER BY orders.number, orders.id"
)


# Peak memory is "flat" when exporting ten times the orders costs at most SQLite's page cache
# while streaming (16 MiB, full from roughly 100 000 orders on) and a little slack.
FLAT_MB = 20


def export_figures(path: Path, small: Path, orders: int, runs: int) -> list[Row]:
    """`verkstad export csv orders -o FILE` (every order, the default Excel dialect) against
    `sqlite3 -csv` of the same query; its peak memory on a tenth of the orders and on all."""
    label = f"CSV export of {orders:,} orders".replace(",", " ")
    sqlite = shutil.which("sqlite3")
    if sqlite is None:
        note = "skipped: no sqlite3 CLI (apt-get install sqlite3)"
        return [Row(label, None, None, note, True, "s", result="skipped")]
    out = DATA / "export.csv"

    def ours(db: Path) -> tuple[float, float]:
        return run_cli(["--db", f"sqlite:///{db}", "export", "csv", "orders", "-o", str(out)])

    def reference() -> float:
        started = time.perf_counter()
        with out.open("wb") as f:
            subprocess.run([sqlite, "-csv", "-header", str(path), EXPORT_SQL], stdout=f, check=True)
        return time.perf_counter() - started

    ours(path), reference()  # warm the page cache for both
    mine, ref, peaks = [], [], []
    for _ in range(runs):  # alternate, so load from elsewhere hits both alike
        seconds, peak = ours(path)
        mine.append(seconds)
        peaks.append(peak)
        ref.append(reference())
    small_peak = max(ours(small)[1] for _ in range(2))
    out.unlink(missing_ok=True)
    t, r = statistics.median(mine), statistics.median(ref)
    peak = max(peaks)
    tenth = f"{orders // 10:,}".replace(",", " ")
    return [
        Row(label, t, r, "≤ 2×", t <= 2 * r, "s"),
        Row(
            f"  its peak memory (vs {tenth} orders)",
            peak,
            small_peak,
            f"flat: ≤ +{FLAT_MB} MB",
            peak <= small_peak + FLAT_MB,
            "MB",
        ),
    ]


def sie_figure(path: Path, want: int = 100_000) -> list[Row]:
    """`verkstad export sie` of the first ``want`` verifications by booking date (report)."""
    conn = sqlite3.connect(path)
    first = conn.execute("SELECT min(booked_on) FROM verifications").fetchone()[0]
    last = conn.execute(
        "SELECT booked_on FROM verifications ORDER BY booked_on, id LIMIT 1 OFFSET ?",
        (want - 1,),
    ).fetchone()
    last = (
        last[0] if last else conn.execute("SELECT max(booked_on) FROM verifications").fetchone()[0]
    )
    count = conn.execute(
        "SELECT count(*) FROM verifications WHERE booked_on BETWEEN ? AND ?", (first, last)
    ).fetchone()[0]
    conn.close()
    out = DATA / "export.si"
    args = ["--db", f"sqlite:///{path}", "export", "sie", "--from", first[:10], "--to", last[:10]]
    times = [run_cli([*args, "-o", str(out)])[0] for _ in range(3)]
    out.unlink(missing_ok=True)
    label = f"SIE 4I export of {count:,} verifications".replace(",", " ")
    return [Row(label, statistics.median(times), None, "report", True, "s", result="—")]


def poll_figure(requests: int, runs: int) -> list[Row]:
    """The scheduler's polling job over open payment requests, 50 ms added per provider call,
    against the ideal N × latency ÷ concurrency (benchmarks/poll.py)."""
    out = subprocess.run(
        [sys.executable, str(HERE / "poll.py"), str(requests), "50", str(runs)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        out.check_returncode()
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["still_open"] == requests, got
    count = f"{requests:,}".replace(",", " ")
    figure = f"polling {count} open payment requests, 50 ms latency, {got['concurrency']} in flight"
    t, ideal = got["seconds"], got["ideal_seconds"]
    return [Row(figure, t, ideal, "≤ 1.3×", t <= 1.3 * ideal, "s")]


def seed_figure(orders: int) -> list[Row]:
    note = DATA / f"orders-{orders}.seed.json"
    label = f"verkstad demo seed --orders {orders}"
    if not note.exists():
        return [Row(label, None, None, "report (seeded before the harness kept its time)", True)]
    got = json.loads(note.read_text())
    peak = f", peak {got['peak_mb']:.0f} MB" if got.get("peak_mb") else ""
    when = f"report; seeded {got['at']}, load {got['load']:.1f}{peak}"
    return [Row(label, got["seconds"], None, when, True, "s", result="—")]


def print_table(rows: list[Row], orders: int) -> None:
    head = ["figure", "verkstad", "reference", "ratio", "goal", "result"]
    cells = [r.cells() for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    count = f"{orders:,}".replace(",", " ")
    print(
        f"\nverkstad benchmarks — {count} orders — {os.cpu_count()} cores — load average {load}\n"
    )
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="100 000 orders instead of 1 000 000")
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL figures")
    parser.add_argument(
        "--only", default="", help="comma-separated: list,pg,start,memory,poll,export,sie,seed"
    )
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))

    def wanted(name: str) -> bool:
        return not only or name in only

    orders = 100_000 if args.quick else 1_000_000
    path = seeded_sqlite(orders)
    rows: list[Row] = []
    if wanted("list"):
        rows += sqlite_figures(path, 30)
    if wanted("pg") and not args.no_pg:
        rows += pg_figures(orders, 30)
    if wanted("start"):
        rows += start_figures(path, 5 if args.quick else 15)
    if wanted("memory"):
        rows += memory_figure(path)
    if wanted("poll"):
        rows += poll_figure(250 if args.quick else 1000, 3)
    if wanted("export"):
        rows += export_figures(path, seeded_sqlite(orders // 10), orders, 2 if args.quick else 3)
    if wanted("sie"):
        rows += sie_figure(path)
    if wanted("seed"):
        rows += seed_figure(orders)
    print_table(rows, orders)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
