"""Checking N open payment requests against the sandbox with added latency.

``python benchmarks/poll.py N LATENCY_MS RUNS`` prints one JSON object: the
median seconds of the scheduler's polling job over N live requests, the
concurrency it polls with, and the ideal (N × latency ÷ concurrency).

The sandbox runs in its own process (as ``verkstad demo`` starts it), with a
latency fault on every provider call. A fresh workshop gets N completed
orders and N payment requests sent through the product's ``send``; then the
scheduler's own job function (``poll_payments``) runs RUNS times, each
asking the provider about every request (all are minutes old, so all are due).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from verkstad.config import Settings
from verkstad.db import Database
from verkstad.mpay import recovery, scheduler
from verkstad.mpay import service as mpay
from verkstad.mpay.channels import add_channel
from verkstad.mpay.gateway import Providers
from verkstad.mpay.models import PaymentChannel, PaymentRequest
from verkstad.orders import service
from verkstad.orders.service import CustomerInput, LineInput
from verkstad.users import Actor, Role


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    verkstad = Path(sys.executable).with_name("verkstad")
    process = subprocess.Popen(
        [str(verkstad), "sandbox", "serve", "--port", str(port), "--db", str(folder / "sb.db")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/phone", timeout=1)
            return process, url
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the sandbox did not start") from None
            time.sleep(0.1)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_requests(db: Database, settings: Settings, admin: Actor, n: int) -> None:
    """N completed orders of N customers (Swish takes one open request per phone), each
    sent a payment request (Swish: no SMS needed)."""
    from sqlmodel import select

    with db.session() as s:
        for channel in s.exec(select(PaymentChannel)):
            channel.active = False
    add_channel(db, admin, "swish-bench", "swish", sms=False)
    numbers = []
    for i in range(n):
        phone = f"+4670{1_000_000 + i}"  # none ends in a scripted customer's digits
        customer = service.create_customer(db, admin, CustomerInput(f"Kund {i}", phone)).number
        order = service.create_order(db, admin, customer)
        service.add_line(db, admin, order.number, LineInput("Arbete", "1", "850", kind="labour"))
        service.complete(db, admin, order.number)
        numbers.append(order.number)
    providers = Providers(settings)

    def send(number: int) -> None:
        mpay.send(db, providers, admin, number, mpay.SendForm(reference=f"B{number}"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, numbers))
    providers.close()


def main() -> None:
    n, latency_ms, runs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        process, url = start_sandbox(folder)
        try:
            settings = Settings(sandbox_url=url)
            db = Database(f"sqlite:///{folder / 'verkstad.db'}")
            db.upgrade()
            admin = Actor("admin", Role.ADMIN)
            # Setting up sends N requests as fast as it can; the sandbox's imitation of the
            # providers' request limits is off for that, and on again for the polling.
            faults = f"{url}/_sandbox/faults"
            httpx.post(faults, json={"rate_limits": False}, timeout=10).raise_for_status()
            started = time.perf_counter()
            open_requests(db, settings, admin, n)
            setup = time.perf_counter() - started
            httpx.post(faults, json={"rate_limits": True}, timeout=10).raise_for_status()
            fault = {"add": {"kind": "latency", "latency_ms": latency_ms}}
            httpx.post(faults, json=fault, timeout=10).raise_for_status()
            scheduler.build_scheduler(db, settings)  # registers the job's runtime (not started)
            times = []
            cpu_sandbox, cpu_ours = _cpu_seconds(process.pid), time.process_time()
            for _ in range(runs):
                before = time.perf_counter()
                scheduler.poll_payments(db.url)  # the scheduler's job, as it runs it
                times.append(time.perf_counter() - before)
            cpu_sandbox = (_cpu_seconds(process.pid) - cpu_sandbox) / runs / n
            cpu_ours = (time.process_time() - cpu_ours) / runs / n
            with db.read() as s:
                from sqlmodel import func, select

                live = s.exec(
                    select(func.count())
                    .select_from(PaymentRequest)
                    .where(
                        PaymentRequest.state == "SENT"  # type: ignore[arg-type]
                    )
                ).one()
            scheduler.stop(db)
            db.dispose()
        finally:
            process.terminate()
            process.wait(timeout=10)
    concurrency = recovery.POLL_CONCURRENCY
    print(
        json.dumps(
            {
                "requests": n,
                "still_open": live,
                "latency_ms": latency_ms,
                "concurrency": concurrency,
                "setup_seconds": setup,
                "seconds": statistics.median(times),
                "all_seconds": times,
                "ideal_seconds": n * latency_ms / 1000 / concurrency,
                "cpu_ms_per_check": {"verkstad": cpu_ours * 1000, "sandbox": cpu_sandbox * 1000},
            }
        )
    )


if __name__ == "__main__":
    main()
