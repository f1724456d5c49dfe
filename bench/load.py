"""Load test over loopback: N concurrent users against jiayi served by gunicorn, doing what the staff of
a community health centre do: open health records, work through the follow-up worklist, page through
their residents and book specialist slots for their patients.

What a virtual user does. Each one is a family doctor, a team nurse or a centre manager (the personas of
`jiayi demo`, in turn) and repeats, for the run's duration: pick an action by the persona's weights, do
it, then read the page for a think time before the next one. The actions are

- record view: the health-record page (`/records/<id>/`) and, at once, the trend series its charts
  fetch (`/records/<id>/series.json`), as the browser does: two requests;
- worklist: `/care/worklist/`, the follow-ups due and overdue of the user's panel;
- residents list: a page of `/residents/`;
- booking (family doctors only): the booking API a family doctor's client uses: list free slots
  (`GET /api/referrals/slots`), think, `$hold` one for a resident of the doctor's signed panel, think,
  `$book` the held appointment, then cancel it at once so the district's slots never run out (the
  cancel is housekeeping of the benchmark, measured like the rest). When two users race for one slot the
  loser gets 409 "slot no longer available": a correct answer, counted separately, not as an error.

Think time. People using a clinical system read what they opened: the default is a negative-exponential
think time with a mean of 10 s, truncated at 10× the mean, as TPC-C specifies for its terminal users
(clause 5.2.5.4: exponential think times with means of 5–12 s, truncated at 10× the mean), since a
health record or a worklist takes at least as long to read as an order-entry screen. A user therefore
does about 60 / (10 s + response time) ≈ 6 actions a minute. `--think 1` gives the old, much harsher
figure for comparison. Users arrive spread over the first mean think time, and the first `--warmup`
seconds are not counted.

Every request's latency is kept; p50/p95/p99, errors (anything but the expected status, or no answer
within the timeout) and 409 conflicts are printed per request kind and overall, with the throughput and
the offered load (users × requests per action ÷ (mean think time + mean response time)).

The baseline, measured in the same run against the same server and data, is one user with no think
time: the ratio says how much N concurrent users slow each page down against a quiet server.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jiayi_1m .venv/bin/python bench/load.py --users 200
    .venv/bin/python bench/load.py --users 200 --think 1                # the harsher 1 s comparison
    .venv/bin/python bench/load.py --url http://127.0.0.1:8711          # a server already running

The server is gunicorn with `deploy/gunicorn.conf.py` (its workers, threads and timeouts) unless
`--workers`/`--threads` say otherwise; it runs with DEBUG off.

Sessions: the personas' logins are shared by the virtual users of that persona; logging 200 users in
separately would measure the password hash, not the pages. The database must hold a district and the
demo accounts (`jiayi demo`, or `create_demo_accounts()` on a generated district).
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
PERSONAS = ("doctor", "nurse", "manager")
# Weights of the actions per persona (an action the persona may not do is dropped at start-up).
WEIGHTS: dict[str, dict[str, int]] = {
    "doctor": {"record view": 4, "worklist": 3, "residents list": 1, "booking": 2},
    "nurse": {"record view": 4, "worklist": 3, "residents list": 1},
    "manager": {"record view": 3, "residents list": 2},
}
TIMEOUT = 30.0
THINK_CAP = 10.0  # the truncation of the exponential think time, in means (TPC-C)


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)
    conflicts: dict[str, int] = field(default_factory=dict)
    actions: int = 0
    thinks: int = 0
    # The counted window (monotonic clock): requests started inside it are kept, whenever they end.
    start_at: float = 0.0
    stop_at: float = float("inf")

    def counting(self, moment: float | None = None) -> bool:
        moment = time.monotonic() if moment is None else moment
        return self.start_at <= moment < self.stop_at

    def add(
        self, name: str, started: float, status: int, expected: tuple[int, ...], failure: str = ""
    ) -> None:
        if not self.counting(started):
            return
        self.latencies.setdefault(name, []).append(time.monotonic() - started)
        if status == 409 and name in ("hold", "book"):
            self.conflicts[name] = self.conflicts.get(name, 0) + 1
        elif status not in expected:
            self.errors[name] = self.errors.get(name, 0) + 1
            # No answer at all: named by the client's exception (ReadTimeout, RemoteProtocolError…).
            key = failure or str(status)
            self.statuses.setdefault(name, {})
            self.statuses[name][key] = self.statuses[name].get(key, 0) + 1


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


def start_server(
    workers: int | None, threads: int | None, port: int | None
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or _free_port()
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "jiayi.wsgi:application",
        "--config",
        str(GUNICORN_CONFIG),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    if workers:
        command += ["--workers", str(workers)]
    if threads:
        command += ["--threads", str(threads)]
    # 409s and 404s are expected answers here: the log shows errors only.
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="jiayi.settings", JIAYI_DEBUG="0")
    env.setdefault("JIAYI_LOG_LEVEL", "ERROR")
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
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


@dataclass(frozen=True, slots=True)
class Targets:
    """Residents each persona may open, and those the doctor may book reserved slots for."""

    records: dict[str, list[int]]
    bookable: list[int]


def targets() -> Targets:
    """Read from the database the server uses, through the same access rules the pages apply."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayi.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User

    from jiayi import access

    found: dict[str, list[int]] = {}
    bookable: list[int] = []
    for name in PERSONAS:
        user = User.objects.select_related("account").filter(username=name).first()
        if user is None:
            raise SystemExit(
                f"no {name!r} login: generate a district and the demo accounts first (jiayi demo)"
            )
        # A seeded sample, not ORDER BY random() over a 1M-resident district.
        pks = list(
            access.health_accounts_visible_to(user).order_by("pk").values_list("pk", flat=True)[:20000]
        )
        if not pks:
            raise SystemExit(f"{name} sees no resident: generate a district and the demo accounts first")
        found[name] = random.Random(name).sample(pks, min(2000, len(pks)))
        if access.can_refer(user):
            bookable = list(
                access.residents_referable_by(user).order_by("pk").values_list("pk", flat=True)[:2000]
            )
    return Targets(found, bookable)


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


@dataclass
class User:
    client: httpx.AsyncClient
    persona: str
    actions: list[str]
    weights: list[int]
    records: list[int]
    bookable: list[int]
    rng: random.Random
    think: Callable[[random.Random], float]


async def _get(user: User, stats: Stats, name: str, path: str, **params: int) -> httpx.Response | None:
    started = time.monotonic()
    try:
        response = await user.client.get(path, params=params or None)
    except httpx.HTTPError as exc:
        stats.add(name, started, 0, (200,), failure=type(exc).__name__)
        return None
    stats.add(name, started, response.status_code, (200,))
    return response


async def _post(
    user: User, stats: Stats, name: str, path: str, body: dict[str, object] | None, expected: tuple[int, ...]
) -> httpx.Response | None:
    started = time.monotonic()
    headers = {
        "X-CSRFToken": user.client.cookies.get("csrftoken") or "",
        "Referer": str(user.client.base_url),
    }
    try:
        response = await user.client.post(path, json=body or {}, headers=headers)
    except httpx.HTTPError as exc:
        stats.add(name, started, 0, expected, failure=type(exc).__name__)
        return None
    stats.add(name, started, response.status_code, expected)
    return response


async def pause(user: User, stats: Stats) -> None:
    if stats.counting():
        stats.thinks += 1
    await asyncio.sleep(user.think(user.rng))


async def booking(user: User, stats: Stats) -> None:
    """List free slots, hold one for a signed resident, confirm it, give it back."""
    listed = await _get(user, stats, "slots (API)", "/api/referrals/slots", limit=50)
    if listed is None or listed.status_code != 200 or not listed.json():
        return
    slot = user.rng.choice(listed.json())
    await pause(user, stats)
    held = await _post(
        user,
        stats,
        "hold",
        f"/api/referrals/slots/{slot['id']}/$hold",
        {"resident_id": user.rng.choice(user.bookable)},
        (201,),
    )
    if held is None or held.status_code != 201:
        return
    appointment = held.json()["id"]
    await pause(user, stats)
    await _post(user, stats, "book", f"/api/referrals/appointments/{appointment}/$book", None, (200,))
    await _post(user, stats, "cancel", f"/api/referrals/appointments/{appointment}/cancel", None, (200,))


async def act(user: User, stats: Stats, action: str) -> None:
    if action == "record view":
        pk = user.rng.choice(user.records)
        page = await _get(user, stats, "record page", f"/records/{pk}/")
        if page is not None and page.status_code == 200:
            await _get(user, stats, "record series", f"/records/{pk}/series.json")
    elif action == "worklist":
        await _get(user, stats, "worklist", "/care/worklist/")
    elif action == "residents list":
        await _get(user, stats, "residents list", "/residents/", page=user.rng.randint(1, 20))
    elif action == "booking":
        await booking(user, stats)
    else:
        raise ValueError(f"unknown action {action!r}")


async def user_loop(user: User, stats: Stats, until: float, spread: float) -> None:
    await asyncio.sleep(user.rng.uniform(0, spread))  # users arrive spread out, not in lockstep
    while time.monotonic() < until:
        action = user.rng.choices(user.actions, user.weights)[0]
        await act(user, stats, action)
        if stats.counting():
            stats.actions += 1
        await pause(user, stats)


class CpuMeter:
    """CPU time the server spends on the counted window: its gunicorn processes and the PostgreSQL
    backends of its database, read from /proc once a second (a backend that ends keeps the CPU it had
    at the last reading). On a machine shared with other work, latencies say how long users waited;
    CPU seconds per request say what the pages cost, whatever else the machine was doing."""

    def __init__(self, server_pid: int | None, database: str) -> None:
        self.server_pid = server_pid
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.kinds: dict[int, str] = {}

    @staticmethod
    def _stat(pid: int) -> tuple[int, float] | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks  # ppid, utime + stime

    def _processes(self) -> dict[int, tuple[str, float]]:
        found: dict[int, tuple[str, float]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            stat = self._stat(pid)
            if stat is None:
                continue
            ppid, cpu = stat
            if self.server_pid is not None and self.server_pid in (pid, ppid):
                found[pid] = ("gunicorn", cpu)
                continue
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and f" {self.database} " in title:
                found[pid] = ("postgres", cpu)
        return found

    def sample(self, *, first: bool = False) -> None:
        for pid, (kind, cpu) in self._processes().items():
            self.kinds[pid] = kind
            # A process born during the window counts from zero.
            self.first.setdefault(pid, cpu if first else 0.0)
            self.last[pid] = cpu

    async def watch(self, start_at: float, stop_at: float) -> None:
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        self.sample(first=True)
        while time.monotonic() < stop_at:
            await asyncio.sleep(min(1.0, max(0.0, stop_at - time.monotonic())))
            self.sample()

    def used(self) -> dict[str, float]:
        totals = {"gunicorn": 0.0, "postgres": 0.0}
        for pid, cpu in self.last.items():
            totals[self.kinds[pid]] += cpu - self.first.get(pid, 0.0)
        return totals


def think_time(mean: float) -> Callable[[random.Random], float]:
    if mean <= 0:
        return lambda rng: 0.0
    return lambda rng: min(rng.expovariate(1 / mean), THINK_CAP * mean)


async def run(
    url: str,
    sessions: dict[str, httpx.Cookies],
    found: Targets,
    actions: dict[str, list[str]],
    users: int,
    seconds: float,
    warmup: float,
    think: float,
    seed: int,
    meter: CpuMeter | None = None,
) -> tuple[Stats, float]:
    stats = Stats()
    rng = random.Random(seed)
    population = []
    for n in range(users):
        persona = PERSONAS[n % len(PERSONAS)]
        client = httpx.AsyncClient(
            base_url=url,
            cookies=sessions[persona],
            timeout=TIMEOUT,
            # Idle connections are dropped before gunicorn's 5 s keep-alive ends: a browser retries a
            # request that meets a connection the server has just closed; this client would count it.
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=2, keepalive_expiry=3.0),
            follow_redirects=False,
        )
        names = actions[persona]
        population.append(
            User(
                client=client,
                persona=persona,
                actions=names,
                weights=[WEIGHTS[persona][a] for a in names],
                records=found.records[persona],
                bookable=found.bookable,
                rng=random.Random(rng.random()),
                think=think_time(think),
            )
        )
    started = time.monotonic()
    stats.start_at = started + warmup
    stats.stop_at = stats.start_at + seconds
    watching = (meter.watch(stats.start_at, stats.stop_at),) if meter is not None else ()
    await asyncio.gather(*(user_loop(user, stats, stats.stop_at, think) for user in population), *watching)
    elapsed = seconds
    for user in population:
        await user.client.aclose()
    return stats, elapsed


def report(title: str, stats: Stats, elapsed: float, users: int, think: float) -> dict[str, float]:
    print(f"\n{title}")
    print(f"{'request':<16} {'count':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6} {'409':>5}")
    every: list[float] = []
    errors = conflicts = 0
    p95s = {}
    for name in sorted(stats.latencies):
        values = stats.latencies[name]
        every += values
        errors += stats.errors.get(name, 0)
        conflicts += stats.conflicts.get(name, 0)
        p95s[name] = percentile(values, 95) * 1000
        print(
            f"{name:<16} {len(values):>7} {percentile(values, 50) * 1000:>7.0f} {p95s[name]:>7.0f} "
            f"{percentile(values, 99) * 1000:>7.0f} {stats.errors.get(name, 0):>6} "
            f"{stats.conflicts.get(name, 0):>5}"
            + (f"  statuses {stats.statuses[name]}" if name in stats.statuses else "")
        )
    if not every:
        print("no requests")
        return p95s
    rate = 100 * errors / len(every)
    p50_all, p95_all, p99_all = (percentile(every, p) * 1000 for p in (50, 95, 99))
    mean = statistics.fmean(every)
    print(
        f"{'all':<16} {len(every):>7} {p50_all:>7.0f} {p95_all:>7.0f} {p99_all:>7.0f} "
        f"{errors:>6} {conflicts:>5}"
    )
    per_action = len(every) / stats.actions if stats.actions else 0.0
    print(
        f"error rate {rate:.2f}% ({errors} of {len(every)}), 409 conflicts {conflicts}; "
        f"throughput {len(every) / elapsed:.1f} requests/s over {elapsed:.0f} s, "
        f"mean response {mean * 1000:.0f} ms"
    )
    if think > 0 and stats.thinks:
        # A closed system: each user alternates requests and think times, so it offers one request per
        # (mean think per request + mean response time); at zero response time, users ÷ think per request.
        think_per_request = think * stats.thinks / len(every)
        offered = users / (think_per_request + mean)
        print(
            f"each user: {60 * stats.actions / elapsed / users:.1f} actions/min, "
            f"{60 * len(every) / elapsed / users:.1f} requests/min ({per_action:.2f} requests per action); "
            f"offered load {users} ÷ ({think_per_request:.2f} s think + {mean:.3f} s response per request) "
            f"= {offered:.1f} requests/s (at most {users / think_per_request:.1f} with instant answers)"
        )
    p95s["all"] = p95_all
    return p95s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds counted (default 120)")
    parser.add_argument(
        "--warmup", type=float, default=None, help="seconds not counted (default: the think mean)"
    )
    parser.add_argument("--baseline", type=float, default=15.0, help="seconds of the one-user baseline")
    parser.add_argument("--think", type=float, default=10.0, help="mean think time between actions, s")
    parser.add_argument("--url", help="a running server; default: start gunicorn on a loopback port")
    parser.add_argument("--port", type=int, help="the port of the gunicorn started (default: a free one)")
    parser.add_argument("--workers", type=int, help="gunicorn worker processes (default: the config's)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: the config's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a small run that checks the benchmark works")
    args = parser.parse_args()
    if args.quick:
        args.users, args.duration, args.baseline, args.think = 10, 10.0, 5.0, 1.0
    if args.users < 1 or args.users > 1000 or args.duration > 900:
        raise SystemExit("keep it bounded: 1–1000 users, at most 900 s")
    warmup = args.think if args.warmup is None else args.warmup

    sys.path.insert(0, str(ROOT / "src"))
    found = targets()
    from jiayi.registry.demo import DEMO_PASSWORD

    server = None
    url = args.url
    if url is None:
        server, url = start_server(args.workers, args.threads, args.port)
    try:
        if not url.startswith(("http://127.0.0.1", "http://localhost")):
            raise SystemExit("loopback only: the load test never leaves this machine")
        sessions = {name: login(url, name, DEMO_PASSWORD) for name in PERSONAS}
        actions = _allowed_actions(url, sessions, found)
        for name in PERSONAS:
            print(f"{name}: {', '.join(actions[name])}")
        base, base_elapsed = asyncio.run(
            run(url, sessions, found, actions, 1, args.baseline, 0.0, 0.0, args.seed)
        )
        base_p95 = report("baseline: 1 user, no think time", base, base_elapsed, 1, 0.0)
        load_avg = os.getloadavg()
        meter = CpuMeter(server.pid if server is not None else None, _database_name())
        stats, elapsed = asyncio.run(
            run(
                url, sessions, found, actions, args.users, args.duration, warmup, args.think, args.seed, meter
            )
        )
        after = os.getloadavg()
        p95 = report(
            f"load: {args.users} users, exponential think time, mean {args.think:g} s, "
            f"{elapsed:.0f} s counted",
            stats,
            elapsed,
            args.users,
            args.think,
        )
        print(
            f"machine load average (1 min) before {load_avg[0]:.2f}, after {after[0]:.2f} "
            f"(5 min after: {after[1]:.2f}); {os.cpu_count()} CPUs"
        )
        used = meter.used()
        requests = sum(len(values) for values in stats.latencies.values())
        if requests:
            per_request = (used["gunicorn"] + used["postgres"]) / requests
            cpus = os.cpu_count() or 1
            print(
                f"server CPU in the counted window: gunicorn {used['gunicorn']:.1f} s, PostgreSQL "
                f"{used['postgres']:.1f} s for {requests} requests = {per_request * 1000:.0f} ms per request "
                f"(Python {used['gunicorn'] / requests * 1000:.0f} ms, database "
                f"{used['postgres'] / requests * 1000:.0f} ms): {cpus} CPUs serve at most "
                f"{cpus / per_request:.0f} requests/s of this mix when nothing else runs"
            )
        print("\np95 under load ÷ p95 of the baseline:")
        for name in p95:
            if name in base_p95 and base_p95[name] > 0:
                print(f"  {name:<16} {p95[name] / base_p95[name]:.1f}×")
    finally:
        if server is not None:
            stop_server(server)


def _database_name() -> str:
    from django.conf import settings

    return str(settings.DATABASES["default"]["NAME"])


def _allowed_actions(url: str, sessions: dict[str, httpx.Cookies], found: Targets) -> dict[str, list[str]]:
    """The actions each persona may do here (a role without the worklist, an app not installed)."""
    probes = {
        "record view": "/records/{pk}/",
        "worklist": "/care/worklist/",
        "residents list": "/residents/",
        "booking": "/api/referrals/slots",
    }
    allowed: dict[str, list[str]] = {}
    for name in PERSONAS:
        with httpx.Client(base_url=url, cookies=sessions[name], timeout=TIMEOUT) as probe:
            allowed[name] = [
                action
                for action in WEIGHTS[name]
                if probe.get(probes[action].format(pk=found.records[name][0])).status_code == 200
                and (action != "booking" or bool(found.bookable))
            ]
    return allowed


if __name__ == "__main__":
    main()
