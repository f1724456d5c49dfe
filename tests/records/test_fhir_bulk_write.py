"""How a bundle is written: a chunk at a time with bulk statements and one chained audit entry per
stored entry, falling back to entry-by-entry writes when the database refuses a chunk."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from jiayi import access
from jiayi.audit.models import Action, AuditEntry
from jiayi.audit.services import verify_chain
from jiayi.records import services
from jiayi.records.models import Observation
from jiayi.records.services import CREATED, ERROR, UPDATED, import_bundle
from jiayi.registry.models import Institution, Resident

from .helpers import bundle, clinic_day, observation

SOURCE = "his-bulk"
pytestmark = pytest.mark.django_db


@pytest.fixture
def residents(personas) -> list[Resident]:
    return list(
        access.residents_editable_by(personas.doctor)
        .filter(citizen_id__isnull=False, date_of_death__isnull=True)
        .order_by("id")[:20]
    )


def _load(personas: Any, payload: dict[str, Any]) -> services.BundleOutcome:
    return import_bundle(
        payload,
        actor=personas.doctor,
        source_system=SOURCE,
        residents=access.residents_editable_by(personas.doctor),
    )


def test_a_bundle_larger_than_a_chunk_is_stored_and_audited_in_a_verifiable_chain(
    personas, residents, monkeypatch
):
    monkeypatch.setattr(services, "CHUNK_ENTRIES", 300)
    resources = clinic_day(residents, 700)
    resources[450] = observation("bad-450", residents[0], value=10)
    audits_before = AuditEntry.objects.count()

    outcome = _load(personas, bundle(resources))

    assert outcome.counts() == {CREATED: 699, ERROR: 1}
    assert [(e.index, e.field) for e in outcome.errors] == [(450, "Observation.valueQuantity.value")]
    assert Observation.objects.filter(source_system=SOURCE).count() == 699
    audits = list(AuditEntry.objects.filter(id__gt=0).order_by("id"))[audits_before:]
    stored_ids = {
        str(pk) for pk in Observation.objects.filter(source_system=SOURCE).values_list("pk", flat=True)
    }
    created = [a for a in audits if a.action == Action.CREATE and a.resource_type == "observation"]
    assert {a.resource_id for a in created} == stored_ids
    assert all(a.actor_id == personas.doctor.pk and a.resident_id for a in created)
    assert verify_chain() is None


def test_an_identifier_repeated_within_a_bundle_is_stored_once_with_the_later_values(personas, residents):
    resident = residents[0]
    outcome = _load(
        personas,
        bundle([observation("twice", resident, value=120), observation("twice", resident, value=135)]),
    )

    assert [e.status for e in outcome.entries] == [CREATED, UPDATED]
    stored = Observation.objects.get(source_system=SOURCE, source_id="urn:test:obs|twice")
    assert stored.value == 135
    actions = list(
        AuditEntry.objects.filter(resource_id=str(stored.pk), resource_type="observation")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [Action.CREATE, Action.UPDATE]


def test_a_chunk_the_database_refuses_is_written_entry_by_entry(personas, residents, monkeypatch):
    """Another sender stores one of the chunk's identifiers between the look-up and the insert: the
    chunk's bulk insert breaks the unique constraint, and the chunk is redone entry by entry, where that
    entry becomes an update of the row the other sender stored."""
    resident = residents[0]
    institution = Institution.objects.order_by("id").first()
    assert institution is not None
    original = services._Importer._prefetch

    def prefetch_then_race(self: services._Importer, chunk: list[Any]) -> None:
        original(self, chunk)
        if not Observation.objects.filter(source_id="urn:test:obs|race-1").exists():
            Observation.objects.create(
                resident=resident,
                institution=institution,
                source_system=SOURCE,
                source_id="urn:test:obs|race-1",
                received_at=timezone.now(),
                code="8480-6",
                value=150,
                unit="mm[Hg]",
                original_value=150,
                original_unit="mm[Hg]",
                effective_at=timezone.now(),
            )

    monkeypatch.setattr(services._Importer, "_prefetch", prefetch_then_race)
    resources = [observation(f"race-{n}", resident, value=120 + n) for n in range(3)]

    outcome = _load(personas, bundle(resources))

    assert [e.status for e in outcome.entries] == [CREATED, UPDATED, CREATED]
    values = dict(
        Observation.objects.filter(source_system=SOURCE).values_list("source_id", "value").order_by("id")
    )
    assert values == {
        "urn:test:obs|race-1": 121,
        "urn:test:obs|race-0": 120,
        "urn:test:obs|race-2": 122,
    }
    assert verify_chain() is None
