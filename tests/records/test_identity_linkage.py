"""Patients without a citizen ID: matched to residents (auto-link, review queue, provisional person),
merge and unmerge with every moved record listed and audited, and the duplicates report."""

from __future__ import annotations

from datetime import date
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from jiayi import access
from jiayi.audit.models import AuditEntry
from jiayi.audit.services import verify_chain
from jiayi.records import fhir_systems as systems
from jiayi.records import linkage
from jiayi.records.models import MatchReview, Observation, PatientLink, ResidentMerge, ReviewStatus
from jiayi.records.services import CREATED, ERROR, MATCHED, import_bundle
from jiayi.registry.choices import AlternativeIdType
from jiayi.registry.models import Resident

from .helpers import bundle, observation

SOURCE = "his-match"
pytestmark = pytest.mark.django_db


@pytest.fixture
def load(personas):
    def run(resources: list[dict[str, Any]], **kwargs: Any):
        return import_bundle(
            bundle(resources, "transaction", full_urls=[f"urn:uuid:{i}" for i in range(len(resources))]),
            actor=personas.doctor,
            source_system=SOURCE,
            residents=access.residents_editable_by(personas.doctor),
            committees=access.committees_assignable_by(personas.doctor),
        )

    return run


@pytest.fixture
def known(personas) -> Resident:
    """A resident in the doctor's scope with a phone, and nobody else sharing name and birth date."""
    for resident in access.residents_editable_by(personas.doctor).exclude(phone="").order_by("id"):
        if not Resident.objects.filter(name=resident.name, birth_date=resident.birth_date).exclude(
            pk=resident.pk
        ):
            return resident
    raise AssertionError("no suitable resident")


def patient(number: str, name: str, birth: date, sex: str, phone: str = "") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": systems.HEALTH_RECORD_SYSTEM, "value": number}],
        "name": [{"text": name}],
        "gender": sex,
        "birthDate": birth.isoformat(),
    }
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    return resource


def reading(key: str, resident: Resident) -> dict[str, Any]:
    return observation(key, resident, subject={"reference": "urn:uuid:0"})


def by_number(key: str, resident: Resident, number: str) -> dict[str, Any]:
    return observation(
        key, resident, subject={"reference": f"Patient?identifier={systems.HEALTH_RECORD_SYSTEM}|{number}"}
    )


def near_name(name: str) -> str:
    """The same family name with the last character changed (王小明 → 王小叶)."""
    return name[:-1] + ("叶" if name[-1] != "叶" else "林")


def test_a_certain_match_links_the_patient_and_remembers_the_identifier(load, known):
    outcome = load(
        [
            patient("90000000000000001", known.name, known.birth_date, known.sex, known.phone),
            reading("link-1", known),
        ]
    )

    assert outcome.ok, outcome.errors
    assert [e.status for e in outcome.entries] == [MATCHED, CREATED]
    assert Observation.objects.get(source_id="urn:test:obs|link-1").resident == known
    assert Resident.objects.filter(provisional=True).count() == 0
    link = PatientLink.objects.get(value="90000000000000001")
    assert (link.resident, link.score) == (known, 1.0)
    # A later bundle naming only the identifier finds the same resident.
    later = load([by_number("link-2", known, "90000000000000001")])
    assert later.ok, later.errors
    assert Observation.objects.get(source_id="urn:test:obs|link-2").resident == known


def test_a_likely_match_becomes_a_provisional_person_queued_for_review(load, known):
    outcome = load(
        [
            patient("90000000000000002", near_name(known.name), known.birth_date, known.sex),
            reading("rv-1", known),
        ]
    )

    assert outcome.ok, outcome.errors
    assert [e.status for e in outcome.entries] == [CREATED, CREATED]
    provisional = Resident.objects.get(health_record_number="90000000000000002")
    assert provisional.provisional
    assert provisional != known
    assert provisional.alt_id_type == AlternativeIdType.PROVISIONAL
    assert Observation.objects.get(source_id="urn:test:obs|rv-1").resident == provisional
    review = MatchReview.objects.get(provisional=provisional)
    assert (review.candidate, review.status) == (known, ReviewStatus.PENDING)
    assert review.score == pytest.approx(0.575)  # near name 0.175 + birth date 0.30 + sex 0.10
    assert review.parts == {"name": 0.175, "birth_date": 0.3, "sex": 0.1, "phone": 0.0}


def test_an_unlike_patient_becomes_a_provisional_person_without_review(load, known):
    outcome = load(
        [patient("90000000000000003", "欧阳未名", date(1931, 2, 3), "female"), reading("new-1", known)]
    )

    assert outcome.ok, outcome.errors
    provisional = Resident.objects.get(health_record_number="90000000000000003")
    assert provisional.provisional
    assert not MatchReview.objects.filter(provisional=provisional).exists()
    # Sent again, it is found by its identifier: no second provisional person.
    again = load(
        [patient("90000000000000003", "欧阳未名", date(1931, 2, 3), "female"), reading("new-1", known)]
    )
    assert [e.status for e in again.entries] == [MATCHED, "unchanged"]
    assert Resident.objects.filter(name="欧阳未名").count() == 1


def test_a_patient_without_citizen_id_or_birth_date_is_refused(load, known):
    resource = patient("90000000000000004", known.name, known.birth_date, known.sex)
    del resource["birthDate"]
    outcome = load([resource])
    assert [(e.status, e.field) for e in outcome.entries] == [(ERROR, "Patient.birthDate")]
    assert "matched on name, birth date, sex and phone" in outcome.errors[0].reason
    assert not Resident.objects.filter(health_record_number="90000000000000004").exists()


def test_linking_a_review_merges_and_unmerging_moves_exactly_those_records_back(load, known, personas):
    load(
        [
            patient("90000000000000005", near_name(known.name), known.birth_date, known.sex),
            reading("m-1", known),
        ]
    )
    load([by_number("m-2", known, "90000000000000005")])
    review = MatchReview.objects.get(provisional__health_record_number="90000000000000005")
    provisional = review.provisional
    moved_ids = set(Observation.objects.filter(resident=provisional).values_list("pk", flat=True))
    assert len(moved_ids) == 2
    own_before = set(Observation.objects.filter(resident=known).values_list("pk", flat=True))

    linkage.decide_review(personas.admin, review, same_person=True)

    review.refresh_from_db()
    provisional.refresh_from_db()
    assert review.status == ReviewStatus.LINKED
    assert provisional.merged_into == known
    merge = ResidentMerge.objects.get(duplicate=provisional)
    assert sorted(pk for name, pk in merge.moved if name == "observation") == sorted(moved_ids)
    assert (
        set(Observation.objects.filter(resident=known).values_list("pk", flat=True)) == own_before | moved_ids
    )
    # Every moved record is audited with the resident it now belongs to.
    audited = set(
        AuditEntry.objects.filter(resource_type="observation", detail__merge=merge.pk).values_list(
            "resource_id", flat=True
        )
    )
    assert audited == {str(pk) for pk in moved_ids}
    # A record sent later for the merged-away identifier lands on the survivor.
    load([by_number("m-3", known, "90000000000000005")])
    assert Observation.objects.get(source_id="urn:test:obs|m-3").resident == known

    linkage.unmerge(personas.admin, merge)

    provisional.refresh_from_db()
    assert provisional.merged_into is None
    assert set(Observation.objects.filter(resident=provisional).values_list("pk", flat=True)) == moved_ids
    assert Observation.objects.get(source_id="urn:test:obs|m-3").resident == known  # not part of the merge
    with pytest.raises(linkage.MergeError, match="already undone"):
        linkage.unmerge(personas.admin, merge)
    assert verify_chain() is None


def test_different_people_keeps_both(load, known, personas):
    load(
        [
            patient("90000000000000006", near_name(known.name), known.birth_date, known.sex),
            reading("d-1", known),
        ]
    )
    review = MatchReview.objects.get(provisional__health_record_number="90000000000000006")
    linkage.decide_review(personas.manager, review, same_person=False)
    review.refresh_from_db()
    assert review.status == ReviewStatus.DISTINCT
    assert review.provisional.merged_into is None
    with pytest.raises(linkage.MergeError, match="already decided"):
        linkage.decide_review(personas.manager, review, same_person=True)


def test_a_resident_cannot_be_merged_twice_or_into_themself(known, personas):
    other = Resident.objects.exclude(pk=known.pk).order_by("id").first()
    assert other is not None
    with pytest.raises(linkage.MergeError, match="into themself"):
        linkage.merge_residents(personas.admin, known, known)
    linkage.merge_residents(personas.admin, known, other)
    third = Resident.objects.exclude(pk__in=[known.pk, other.pk]).order_by("id").first()
    assert third is not None
    with pytest.raises(linkage.MergeError, match="already merged"):
        linkage.merge_residents(personas.admin, third, other)


def test_the_duplicates_report_lists_hand_built_near_duplicates(known):
    twin = Resident.objects.create(
        name=near_name(known.name),
        birth_date=known.birth_date,
        sex=known.sex,
        phone=known.phone,
        alt_id_type=AlternativeIdType.PROVISIONAL,
        alt_id_number="PTEST1",
        provisional=True,
    )
    swapped = Resident.objects.create(
        name=known.name,
        birth_date=known.birth_date.replace(day=known.birth_date.month, month=known.birth_date.day)
        if known.birth_date.day <= 12
        else known.birth_date.replace(year=known.birth_date.year + 1),
        sex=known.sex,
        phone="",
        alt_id_type=AlternativeIdType.PROVISIONAL,
        alt_id_number="PTEST2",
        provisional=True,
    )

    pairs = {(p.first, p.second): p.score.total for p in linkage.find_duplicates(Resident.objects.all())}

    assert pairs[(known.pk, twin.pk)] == pytest.approx(0.825)
    assert (known.pk, swapped.pk) not in pairs or pairs[(known.pk, swapped.pk)] >= 0.55
    out = StringIO()
    call_command("records", "duplicates", "--csv", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("score,resident,name")
    row = next(line for line in lines if line.split(",")[1:5:3] == [str(known.pk), str(twin.pk)])
    assert known.name not in row  # names masked
    assert AuditEntry.objects.filter(resource_type="resident_duplicates").exists()
