"""The same bundle posted by several senders at once: one row per entry, never two (security G2).

Runs with real transactions and one database connection per thread. On PostgreSQL the threads can all
find no stored entry and race to insert; the unique (source_system, source_id) constraint keeps one row
and the losers turn into updates. On SQLite writers queue. The test runner's in-memory SQLite database
uses a shared cache, where a second writer gets "database table is locked" at once instead of waiting,
so the worker retries the whole (all-or-nothing) transaction bundle as the busy handler would.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import OperationalError, connections

from jiayi.records.models import Encounter, Observation
from jiayi.records.services import CREATED, UNCHANGED, import_bundle
from jiayi.registry.models import Institution, Resident
from tests.conftest import ensure_district

from .helpers import bundle, encounter, observation

SHARED_CACHE_LOCKED = "database table is locked"
RETRIES = 300
SENDERS = 6


def _import(payload: dict[str, Any], institution: Institution) -> list[str]:
    for _attempt in range(RETRIES):
        try:
            outcome = import_bundle(payload, actor=None, source_system="race", institution=institution)
        except OperationalError as exc:
            if SHARED_CACHE_LOCKED not in str(exc):
                raise
            time.sleep(0.01)
            continue
        return [entry.status for entry in outcome.entries]
    raise AssertionError("the other senders never finished")


@pytest.mark.django_db(transaction=True)
def test_it_stores_one_row_per_entry_when_the_same_bundle_arrives_concurrently() -> None:
    # The transactional test starts from whatever an earlier one flushed; it leaves flushed tables too.
    ensure_district()
    resident = Resident.objects.filter(citizen_id__isnull=False).order_by("id").first()
    assert resident is not None
    institution = Institution.objects.order_by("id").first()
    assert institution is not None
    payload = bundle(
        [
            encounter("race-enc", resident),
            *(observation(f"race-{n}", resident, value=120 + n) for n in range(4)),
        ],
        "transaction",
    )
    barrier = threading.Barrier(SENDERS)
    results: list[Any] = []
    lock = threading.Lock()

    def sender() -> None:
        try:
            barrier.wait(timeout=10)
            statuses: Any = _import(payload, institution)
        except Exception as exc:  # reported, not swallowed: the assertion below shows it
            statuses = repr(exc)
        finally:
            connections.close_all()
        with lock:
            results.append(statuses)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(results) == SENDERS, results
    assert all(isinstance(r, list) for r in results), results
    # Exactly one sender stored each entry; every other sender found it stored already.
    for position in range(5):
        column = sorted(r[position] for r in results)
        assert column == [CREATED] + [UNCHANGED] * (SENDERS - 1), (position, results)
    assert Encounter.objects.filter(source_system="race").count() == 1
    assert Observation.objects.filter(source_system="race").count() == 4
