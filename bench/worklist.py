"""Benchmark of the family doctor's worklist: latency (p50/p95) for a 2,000-resident panel on PostgreSQL.

Either builds a fresh database with a synthetic district (signings, histories and synthetic care) and
makes one family doctor's active panel exactly `--panel` residents (moving other doctors' signings to
them), or, with `--database-url`, uses an existing district as it is: the family doctor whose active
panel is closest to `--panel` signings (the busiest doctor of a realistic district has about 2,000).
It then times `jiayi.care.panel.build_worklist` and the whole `/care/worklist/` page (the page shows a
count per bucket and its first rows). The baseline, measured in the same run on the same panel, is the
straightforward way: loop over the panel's residents and ask the database, resident by resident, for
each kind of item (N+1 queries); it is checked to find the same items.

    .venv/bin/python bench/worklist.py                          # 100k residents, PostgreSQL
    .venv/bin/python bench/worklist.py --database-url postgres://postgres@127.0.0.1:5432/jiayi_1m \
        --runs 30 --baseline-runs 1                             # the existing 1M-resident district
    .venv/bin/python bench/worklist.py --quick                  # a small fresh district

Without `--database-url`, DATABASE_URL names the server (default postgres://postgres@127.0.0.1:5432/);
the database `jiayi_bench_worklist` on it is dropped and recreated. With it, the database is only read,
apart from a login for the bench doctor, the audit entries of the timed page views and nothing else.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import date, timedelta
from typing import Any

SERVER = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]
DATABASE = "jiayi_bench_worklist"


def _fresh_database() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def naive_items(staff: Any, today: date) -> set[tuple[str, int, date]]:
    """The same items as `build_worklist`, asked resident by resident."""
    from jiayi.care import panel, plan, rules
    from jiayi.care.models import Assessment, CareTask, Contact, ElderlyCareYear, FollowUp
    from jiayi.records.models import Condition
    from jiayi.signing.models import Signing

    until = today + timedelta(days=panel.WEEK_DAYS)
    found: set[tuple[str, int, date]] = set()
    contact_due = panel.contact_due_on(today)
    quarter_start, _end = plan.quarter_bounds(*plan.quarter_of(today))
    retry_since = today - timedelta(days=rules.RETRY_AFTER_DAYS - 1)
    for signing in Signing.objects.filter(status="active", family_doctor=staff).select_related("resident"):
        resident = signing.resident
        for task in CareTask.objects.filter(resident=resident, status="open", due_on__lte=until):
            found.add(("home_visit" if task.kind == "home_visit" else "urgent", resident.pk, task.due_on))
        for follow_up in FollowUp.objects.filter(
            resident=resident, status="scheduled", scheduled_on__lte=until
        ):
            last = (
                FollowUp.objects.filter(enrolment=follow_up.enrolment_id, status="done", sbp__isnull=False)
                .order_by("-performed_on", "-id")
                .first()
            )
            stroke = any(
                c.code.upper().startswith(("I21", "I22", "I60", "I61", "I63", "I64"))
                for c in Condition.objects.filter(resident=resident)
            )
            rules.high_risk_overdue(
                days_overdue=rules.overdue_days(follow_up.scheduled_on, today),
                last_sbp=last.sbp if last else None,
                last_dbp=last.dbp if last else None,
                prior_stroke_or_mi=stroke,
            )
            found.add(("follow_up", resident.pk, follow_up.scheduled_on))
        due = signing.starts_on + timedelta(days=panel.ASSESSMENT_DUE_AFTER_START_DAYS)
        assessed = Assessment.objects.filter(resident=resident, performed_on__gte=signing.starts_on).exists()
        if due <= until and not assessed:
            found.add(("assessment", resident.pk, due))
        if resident.birth_date.year <= today.year - plan.ELDERLY_FROM_AGE:
            complete = ElderlyCareYear.objects.filter(
                resident=resident, year=today.year, complete=True
            ).exists()
            birthday = panel._birthday_in(today.year, resident.birth_date)
            if not complete and birthday <= until:
                found.add(("elderly_exam", resident.pk, birthday))
        if contact_due <= until:
            reached = Contact.objects.filter(
                resident=resident, outcome="reached", at__date__gte=quarter_start
            ).exists()
            visited = FollowUp.objects.filter(
                resident=resident, status="done", performed_on__gte=quarter_start
            ).exists()
            tried = Contact.objects.filter(
                resident=resident,
                outcome="unreachable",
                at__date__gte=max(quarter_start, retry_since),
            ).exists()
            if not reached and not visited and not tried:
                found.add(("contact", resident.pk, contact_due))
        if (
            signing.ends_on <= until + timedelta(days=panel.RENEWAL_LEAD_DAYS)
            and not signing.successors.exists()
        ):
            found.add(("renewal", resident.pk, signing.ends_on - timedelta(days=panel.RENEWAL_LEAD_DAYS)))
    return found


def _panel_closest_to(panel: int | None) -> tuple[Any, int]:
    """The family doctor with the most active signings, or with the number closest to `panel`."""
    from django.db.models import Count

    from jiayi.registry.models import Staff
    from jiayi.signing.models import Signing

    sizes = list(
        Signing.objects.filter(status="active")
        .values("family_doctor")
        .annotate(n=Count("id"))
        .order_by("-n", "family_doctor")
        .values_list("family_doctor", "n")
    )
    assert sizes, "the district has no active signings"
    if panel is None:
        doctor, n = sizes[0]
    else:
        doctor, n = min(sizes, key=lambda row: (abs(row[1] - panel), -row[1]))
    print(f"busiest panel: {sizes[0][1]:,} active signings; chosen: {n:,}")
    return Staff.objects.get(pk=doctor), n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--panel", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a small run that checks the benchmark works")
    parser.add_argument(
        "--database-url",
        help="an existing, migrated district to measure as it is (no generation, no panel rearranged)",
    )
    args = parser.parse_args()
    if args.quick:
        args.residents, args.runs, args.baseline_runs = 10_000, 5, 1

    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        _fresh_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayi.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from jiayi.care.panel import build_worklist
    from jiayi.care.synth import generate_care
    from jiayi.registry.choices import Role
    from jiayi.registry.models import Account, Resident, Staff
    from jiayi.signing.models import Signing
    from jiayi.synth import SynthConfig, generate_district

    assert connection.vendor == "postgresql", "this benchmark runs on PostgreSQL"
    # The page reads the real clock, so a generated district is generated as of today.
    today = timezone.localdate()
    if args.database_url:
        residents = Resident.objects.count()
        print(f"existing district {connection.settings_dict['NAME']}: {residents:,} residents")
        staff, have = _panel_closest_to(args.panel)
    else:
        call_command("migrate", verbosity=0)
        config = SynthConfig(residents=args.residents, seed=7, as_of=today)
        start = time.perf_counter()
        generate_district(config, signings=True, histories=True)
        counts = generate_care(config, as_of=today, seed=7)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(
            f"district of {args.residents:,} residents with care generated in "
            f"{time.perf_counter() - start:.0f} s: {counts}"
        )
        staff, have = _panel_closest_to(None)
    if not args.database_url and have < args.panel:
        moved = list(
            Signing.objects.filter(status="active", family_doctor__institution=staff.institution)
            .exclude(family_doctor=staff)
            .order_by("id")
            .values_list("id", flat=True)[: args.panel - have]
        )
        Signing.objects.filter(pk__in=moved).update(family_doctor=staff)
    elif not args.database_url and have > args.panel:
        extra = list(
            Signing.objects.filter(status="active", family_doctor=staff)
            .order_by("id")
            .values_list("id", flat=True)[args.panel :]
        )
        other = Staff.objects.filter(institution=staff.institution).exclude(pk=staff.pk).first()
        Signing.objects.filter(pk__in=extra).update(family_doctor=other)
    if not args.database_url:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE signing_signing")  # the panel was just rearranged
    size = Signing.objects.filter(status="active", family_doctor=staff).count()
    print(f"panel: {size:,} active signings of one family doctor")

    def run_fast() -> Any:
        return build_worklist(staff, today)

    for _ in range(3):
        run_fast()
    with CaptureQueriesContext(connection) as queries:
        worklist = run_fast()
    # Counted now: the connection keeps only the last 9,000 queries, and the baseline runs thousands.
    worklist_queries = len(queries.captured_queries)
    fast: list[float] = []
    # The CPU time of this process, beside the wall time: on a shared machine the wall time also holds
    # the time spent waiting for a core, for this process and for the database server.
    cpu: list[float] = []
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        run_fast()
        fast.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)

    # The doctor's own login when the district has one; otherwise one login is added for the bench.
    account = Account.objects.filter(staff=staff, role=Role.FAMILY_DOCTOR).select_related("user").first()
    if account is not None:
        user = account.user
    else:
        user, _created = User.objects.get_or_create(username=f"bench-worklist-{staff.pk}")
        Account.objects.get_or_create(user=user, defaults={"role": Role.FAMILY_DOCTOR, "staff": staff})
    client = Client()
    client.force_login(user)
    for _ in range(2):
        client.get("/care/worklist/")
    page: list[float] = []
    page_cpu: list[float] = []
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get("/care/worklist/")
        page.append(time.perf_counter() - t0)
        page_cpu.append(time.process_time() - c0)
        assert response.status_code == 200

    naive: list[float] = []
    naive_found: set[tuple[str, int, date]] = set()
    naive_queries = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal naive_queries
        naive_queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        t0 = time.perf_counter()
        naive_found = naive_items(staff, today)
        naive.append(time.perf_counter() - t0)
    for _ in range(args.baseline_runs - 1):
        t0 = time.perf_counter()
        naive_items(staff, today)
        naive.append(time.perf_counter() - t0)
    care_kinds = {"urgent", "home_visit", "follow_up", "assessment", "elderly_exam", "contact", "renewal"}
    fast_found = {(i.kind, i.resident_id, i.due_on) for i in worklist.all() if i.kind in care_kinds}
    assert fast_found == naive_found, "the baseline disagrees with the worklist"

    p50, p95 = statistics.median(fast), _percentile(fast, 0.95)
    page50, page95 = statistics.median(page), _percentile(page, 0.95)
    base50 = statistics.median(naive)
    print(
        f"worklist items: {worklist.total:,} (overdue {len(worklist.overdue):,}, "
        f"today {len(worklist.due_today):,}, "
        f"this week {len(worklist.this_week):,}); {worklist_queries} queries"
    )
    print(
        f"build_worklist: p50 {1000 * p50:.1f} ms, p95 {1000 * p95:.1f} ms over {args.runs} runs "
        f"(CPU of this process p50 {1000 * statistics.median(cpu):.1f} ms)"
    )
    print(
        f"/care/worklist/ page (render + audit): p50 {1000 * page50:.1f} ms, p95 {1000 * page95:.1f} ms "
        f"(CPU p50 {1000 * statistics.median(page_cpu):.1f} ms)"
    )
    print(
        f"baseline resident-by-resident: p50 {1000 * base50:.0f} ms over {args.baseline_runs} runs, "
        f"{naive_queries:,} queries; ratio {base50 / p50:.0f}x faster"
    )
    with open("/proc/loadavg") as loadavg:
        print(f"load average at the end: {loadavg.read().split()[0]}")


if __name__ == "__main__":
    main()
