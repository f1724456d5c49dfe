"""Counters signing the same resident at the same moment: exactly one signing, never two.

Runs with real transactions and one database connection per thread. On PostgreSQL both threads can
pass the check and the partial unique index decides; on a SQLite file, IMMEDIATE transactions and the
busy timeout make the second writer wait for the first and then find its signing.

The test runner's default SQLite database lives in memory with a shared cache, where a second writer
gets SQLITE_LOCKED ("database table is locked") at once: the busy handler only serves file locks. The
worker then waits and retries as the busy handler would, so the test still proves who wins. Set
JIAYI_SQLITE_TEST_PATH to run it against a file, exactly as deployed.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import OperationalError, connections

from jiayi.registry.models import Resident, Staff
from jiayi.signing import services
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import Signing
from tests.conftest import ensure_district

from .helpers import TODAY, consent_for, make_gp, make_package

SHARED_CACHE_LOCKED = "database table is locked"
# As long as the busy timeout of the deployed settings.
WAIT_SECONDS = 20.0


def _create(resident: Resident, terms: services.SigningTerms) -> Signing:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            return services.do_create_signing(None, resident, terms, today=TODAY)
        except OperationalError as exc:
            if SHARED_CACHE_LOCKED not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sign_concurrently(resident: Resident, terms: list[services.SigningTerms]) -> list[tuple[str, Any]]:
    barrier = threading.Barrier(len(terms))
    results: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def worker(terms: services.SigningTerms) -> None:
        try:
            barrier.wait(timeout=10)
            signing = _create(resident, terms)
            outcome: tuple[str, Any] = ("signed", signing.pk)
        except services.SigningConflict as exc:
            outcome = ("conflict", exc.existing.pk)
        except Exception as exc:  # reported, not swallowed: the assertion below shows it
            outcome = ("error", repr(exc))
        finally:
            connections.close_all()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(t,)) for t in terms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("counters", [2, 8])
def test_it_lets_exactly_one_of_concurrent_signings_win(counters: int) -> None:
    # The transactional test starts from whatever an earlier one flushed; it leaves flushed tables too.
    ensure_district()
    resident = (
        Resident.objects.filter(date_of_death__isnull=True, committee__isnull=False).order_by("id").first()
    )
    assert resident is not None
    assert resident.committee is not None
    doctor = (
        Staff.objects.filter(led_teams__centre=resident.committee.responsible_centre).order_by("id").first()
    )
    assert doctor is not None
    colleague = make_gp(doctor.institution.centre, "T-GP-RACE")
    district = services.district_of(resident)
    assert district is not None
    package = make_package(district, TODAY.year)
    consent_for(resident)
    terms = [
        services.SigningTerms(family_doctor=(doctor, colleague)[i % 2], package=package)
        for i in range(counters)
    ]

    results = _sign_concurrently(resident, terms)

    assert sorted(kind for kind, _ in results) == ["conflict"] * (counters - 1) + ["signed"], results
    winner = next(value for kind, value in results if kind == "signed")
    assert {value for kind, value in results if kind == "conflict"} == {winner}
    assert list(Signing.objects.filter(resident=resident).values_list("pk", "status")) == [
        (winner, SigningStatus.PENDING)
    ]
