"""Load test over loopback: N concurrent users against jiayi served by gunicorn, mixing health-record
pages, the residents list, the follow-up worklist and the referral slots (bookings) page.

Each virtual user loops for the run's duration: pick a page by weight, request it with a logged-in
session, wait a think time, repeat. The latency of every request is kept; p50/p95/p99 and the error rate
(anything but 200, or no answer within the timeout) are printed per page and overall.

The baseline, measured in the same run against the same server and data, is one user with no think
time: the ratio says how much 200 concurrent users slow each page down against a quiet server.

    # a generated district in PostgreSQL (see docs/security.md, "Load"), then:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jiayi_load .venv/bin/python bench/load.py
    .venv/bin/python bench/load.py --users 50 --duration 20          # smaller
    .venv/bin/python bench/load.py --url http://127.0.0.1:8000       # a server already running

Sessions: the personas' logins (doctor, nurse, manager of `jiayi demo`) are shared by the virtual users,
as staff at a centre share a handful of accounts' worth of load; logging 200 users in separately would
measure the password hash, not the pages.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PERSONAS = ("doctor", "nurse", "manager")
# (name, weight, path template); {pk} is a resident in the persona's scope.
MIX = (
    ("record page", 4, "/records/{pk}/"),
    ("residents list", 2, "/residents/?page={page}"),
    ("worklist", 2, "/care/worklist/"),
    ("bookings (slots)", 2, "/referrals/slots/"),
)
TIMEOUT = 30.0


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)

    def add(self, name: str, seconds: float, status: int) -> None:
        self.latencies.setdefault(name, []).append(seconds)
        if status != 200:
            self.errors[name] = self.errors.get(name, 0) + 1
            self.statuses.setdefault(name, {})
            self.statuses[name][status] = self.statuses[name].get(status, 0) + 1


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(workers: int, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "jiayi.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--backlog",
        "2048",
        "--timeout",
        "120",
        "--log-level",
        "warning",
        "--preload",
    ]
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="jiayi.settings", JIAYI_DEBUG="0")
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            # The first answer of a worker is slow: it imports every view and compiles the templates.
            if httpx.get(f"{url}/login/", timeout=60).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.3)
    stop_server(server)
    raise SystemExit("the server did not start within 180 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def targets() -> dict[str, list[int]]:
    """Residents whose health account each persona may open (read from the database the server uses)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayi.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User

    from jiayi import access

    found: dict[str, list[int]] = {}
    for name in PERSONAS:
        user = User.objects.select_related("account").get(username=name)
        pks = list(access.health_accounts_visible_to(user).order_by("?").values_list("pk", flat=True)[:2000])
        if not pks:
            raise SystemExit(f"{name} sees no resident: generate a district and the demo accounts first")
        found[name] = pks
    return found


def login(url: str, username: str, password: str) -> httpx.Cookies:
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        client.get("/login/")
        token = client.cookies.get("csrftoken", "")
        response = client.post(
            "/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{url}/login/"},
        )
        if response.status_code != 302:
            raise SystemExit(f"login as {username} failed: {response.status_code}")
        return client.cookies


async def user_loop(
    client: httpx.AsyncClient,
    pks: list[int],
    stats: Stats,
    until: float,
    think: float,
    rng: random.Random,
    paths: list[tuple[str, int, str]],
) -> None:
    names = [name for name, _, _ in paths]
    weights = [weight for _, weight, _ in paths]
    templates = {name: template for name, _, template in paths}
    if think:
        await asyncio.sleep(rng.uniform(0, think))  # users arrive spread out, not in lockstep
    while time.monotonic() < until:
        name = rng.choices(names, weights)[0]
        path = templates[name].format(pk=rng.choice(pks), page=rng.randint(1, 20))
        started = time.monotonic()
        try:
            response = await client.get(path)
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        stats.add(name, time.monotonic() - started, status)
        if think:
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))


async def run(
    url: str,
    sessions: dict[str, httpx.Cookies],
    pks: dict[str, list[int]],
    users: int,
    seconds: float,
    think: float,
    paths: dict[str, list[tuple[str, int, str]]],
    seed: int,
) -> tuple[Stats, float]:
    stats = Stats()
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    rng = random.Random(seed)
    clients = []
    for n in range(users):
        persona = PERSONAS[n % len(PERSONAS)]
        clients.append(
            (
                httpx.AsyncClient(
                    base_url=url,
                    cookies=sessions[persona],
                    timeout=TIMEOUT,
                    limits=limits,
                    follow_redirects=False,
                ),
                persona,
            )
        )
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(
        *(
            user_loop(client, pks[persona], stats, until, think, random.Random(rng.random()), paths[persona])
            for client, persona in clients
        )
    )
    elapsed = time.monotonic() - started
    for client, _ in clients:
        await client.aclose()
    return stats, elapsed


def report(title: str, stats: Stats, elapsed: float) -> dict[str, float]:
    print(f"\n{title}")
    print(f"{'page':<18} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>8}")
    every: list[float] = []
    errors = 0
    p95s = {}
    for name in sorted(stats.latencies):
        values = stats.latencies[name]
        every += values
        errors += stats.errors.get(name, 0)
        p95s[name] = percentile(values, 95) * 1000
        print(
            f"{name:<18} {len(values):>8} {percentile(values, 50) * 1000:>8.0f} {p95s[name]:>8.0f} "
            f"{percentile(values, 99) * 1000:>8.0f} {stats.errors.get(name, 0):>8}"
            + (f"  statuses {stats.statuses[name]}" if name in stats.statuses else "")
        )
    rate = 100 * errors / len(every) if every else 0.0
    p50_all, p95_all, p99_all = (percentile(every, p) * 1000 for p in (50, 95, 99))
    print(
        f"{'all':<18} {len(every):>8} {p50_all:>8.0f} {p95_all:>8.0f} {p99_all:>8.0f} {errors:>8}   "
        f"error rate {rate:.2f}%, "
        f"{len(every) / elapsed:.0f} requests/s, mean {statistics.fmean(every) * 1000 if every else 0:.0f} ms"
    )
    p95s["all"] = percentile(every, 95) * 1000
    return p95s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--baseline", type=float, default=15.0, help="seconds of the one-user baseline")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time between requests, s")
    parser.add_argument("--url", help="a running server; default: start gunicorn on a free loopback port")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a small run that checks the benchmark works")
    args = parser.parse_args()
    if args.quick:
        args.users, args.duration, args.baseline = 20, 10.0, 5.0
    if args.users < 1 or args.users > 1000 or args.duration > 600:
        raise SystemExit("keep it bounded: 1–1000 users, at most 600 s")

    sys.path.insert(0, str(ROOT / "src"))
    pks = targets()
    from jiayi.registry.demo import DEMO_PASSWORD

    server = None
    url = args.url
    if url is None:
        server, url = start_server(args.workers, args.threads)
    try:
        if not url.startswith(("http://127.0.0.1", "http://localhost")):
            raise SystemExit("loopback only: the load test never leaves this machine")
        sessions = {name: login(url, name, DEMO_PASSWORD) for name in PERSONAS}
        # Each persona gets the pages it may open (a role without the worklist, an app not installed).
        paths: dict[str, list[tuple[str, int, str]]] = {}
        for name in PERSONAS:
            with httpx.Client(base_url=url, cookies=sessions[name], timeout=TIMEOUT) as probe:
                paths[name] = [
                    entry
                    for entry in MIX
                    if probe.get(entry[2].format(pk=pks[name][0], page=1)).status_code == 200
                ]
        for name in PERSONAS:
            print(f"{name}: {', '.join(page for page, _, _ in paths[name])}")
        base, base_elapsed = asyncio.run(run(url, sessions, pks, 1, args.baseline, 0.0, paths, args.seed))
        base_p95 = report("baseline: 1 user, no think time", base, base_elapsed)
        stats, elapsed = asyncio.run(
            run(url, sessions, pks, args.users, args.duration, args.think, paths, args.seed)
        )
        p95 = report(
            f"load: {args.users} users, think time ~{args.think:g} s, {elapsed:.0f} s", stats, elapsed
        )
        print("\np95 under load ÷ p95 of the baseline:")
        for name in p95:
            if name in base_p95 and base_p95[name] > 0:
                print(f"  {name:<18} {p95[name] / base_p95[name]:.1f}×")
    finally:
        if server is not None:
            stop_server(server)


if __name__ == "__main__":
    main()
