"""The registry's write path: validation, atomic writes, duplicates and their audit entries."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from django.db import connection

from jiayi import access
from jiayi.audit.models import Action, AuditEntry
from jiayi.registry import services
from jiayi.registry.choices import AlternativeIdType, KeyPopulation, PlaceLevel, Relationship
from jiayi.registry.models import (
    Household,
    KeyPopulationDeclaration,
    Place,
    Resident,
    ResidentialPoint,
)

from .helpers import BIRTH, audit_entries, new_resident, unused_citizen_id

TODAY = date(2026, 1, 1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def committee(personas: Any) -> Place:
    place = access.committees_assignable_by(personas.doctor).order_by("code").first()
    assert place is not None
    return place


@pytest.fixture
def foreign_committee(personas: Any) -> Place:
    """A committee the other centre's doctor serves and the family doctor does not."""
    place = (
        access.committees_assignable_by(personas.other_doctor)
        .exclude(pk__in=access.committees_assignable_by(personas.doctor))
        .first()
    )
    assert place is not None
    return place


def errors_of(data: dict[str, Any], **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(services.RegistryValidationError) as caught:
        services.check_resident_data(data, today=kwargs.pop("today", TODAY), **kwargs)
    return caught.value.errors


def counts() -> tuple[int, int]:
    return Resident.objects.count(), AuditEntry.objects.count()


# Validation --------------------------------------------------------------------------------------------


def test_it_accepts_and_normalises_a_valid_resident(committee: Place) -> None:
    citizen_id = unused_citizen_id()
    data = new_resident(committee.pk, citizen_id=citizen_id.lower(), phone="+86 138-1234-5678")

    clean = services.check_resident_data(data, today=TODAY)

    assert clean["citizen_id"] == citizen_id.upper()
    assert clean["phone"] == "13812345678"
    assert clean["alt_id_type"] == ""
    assert clean["relationship"] == ""


def test_it_reads_full_width_digits_as_plain_ones(committee: Place) -> None:
    citizen_id = unused_citizen_id()
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in citizen_id)

    clean = services.check_resident_data(
        new_resident(committee.pk, citizen_id=full_width, phone="１３８１２３４５６７８"), today=TODAY
    )

    assert clean["citizen_id"] == citizen_id
    assert clean["phone"] == "13812345678"


def test_it_refuses_digits_of_other_scripts(committee: Place) -> None:
    arabic_indic = "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in unused_citizen_id())

    assert errors_of(new_resident(committee.pk, citizen_id=arabic_indic)) == [
        ("citizen_id", "citizen ID must be 17 digits followed by a digit or X")
    ]


def test_it_refuses_a_bad_check_character_with_the_parsers_message(committee: Place) -> None:
    assert errors_of(new_resident(committee.pk, citizen_id="110105194912310021")) == [
        ("citizen_id", "citizen ID check character is 1, expected X")
    ]


def test_it_refuses_a_birth_date_that_disagrees_with_the_citizen_id(committee: Place) -> None:
    assert errors_of(new_resident(committee.pk, birth_date=date(1950, 1, 1))) == [
        ("birth_date", "birth date 1950-01-01 does not match the citizen ID (1949-12-31)")
    ]


def test_it_refuses_a_sex_that_disagrees_with_the_citizen_id(committee: Place) -> None:
    assert errors_of(new_resident(committee.pk, sex="male")) == [
        ("sex", "sex male does not match the citizen ID (female)")
    ]


def test_it_reports_every_problem_at_once(committee: Place) -> None:
    data = new_resident(committee.pk, name=" ", citizen_id="1101051949123100", phone="12345", sex="other")

    assert errors_of(data) == [
        ("name", "name is required"),
        ("sex", "sex must be one of: male, female, unknown"),
        ("citizen_id", "citizen ID must have 18 characters, got 16"),
        ("phone", "phone must be an 11-digit mainland mobile number starting with 13–19"),
    ]


def test_it_requires_an_alternative_identifier_without_a_citizen_id(committee: Place) -> None:
    assert errors_of(new_resident(committee.pk, citizen_id=None)) == [
        ("alt_id_type", "a resident without a citizen ID needs an alternative identifier type"),
        ("alt_id_number", "a resident without a citizen ID needs an alternative identifier"),
    ]


def test_it_accepts_an_alternative_identifier_without_a_citizen_id(committee: Place) -> None:
    data = new_resident(
        committee.pk, citizen_id="", alt_id_type=AlternativeIdType.PASSPORT, alt_id_number="e 1234 5678"
    )

    clean = services.check_resident_data(data, today=TODAY)

    assert clean["citizen_id"] is None
    assert clean["alt_id_number"] == "E12345678"


@pytest.mark.parametrize(
    ("alt", "expected"),
    [
        (
            {"alt_id_number": "E12345678"},
            ("alt_id_type", "alternative identifier type is required with its number"),
        ),
        (
            {"alt_id_type": "passport"},
            ("alt_id_number", "alternative identifier number is required with its type"),
        ),
        (
            {"alt_id_type": "passport", "alt_id_number": "E1;2"},
            ("alt_id_number", "alternative identifier must be 4–32 letters, digits or hyphens"),
        ),
        (
            {"alt_id_type": "driving_licence", "alt_id_number": "E12345678"},
            (
                "alt_id_type",
                "alternative identifier type must be one of: passport, hk_macao_permit, taiwan_permit, "
                "foreign_permanent, birth_certificate, provisional",
            ),
        ),
    ],
)
def test_it_checks_the_alternative_identifier(committee: Place, alt: dict[str, str], expected: Any) -> None:
    assert errors_of(new_resident(committee.pk, citizen_id=None, **alt)) == [expected]


def test_it_refuses_a_birth_date_in_the_future(committee: Place) -> None:
    data = new_resident(
        committee.pk,
        citizen_id=None,
        alt_id_type="provisional",
        alt_id_number="P0001",
        birth_date=date(2026, 1, 2),
    )

    assert errors_of(data) == [("birth_date", "birth date is in the future")]


def test_it_refuses_a_citizen_id_born_in_the_future(committee: Place) -> None:
    data = new_resident(
        committee.pk, citizen_id=unused_citizen_id(date(2026, 3, 1)), birth_date=date(2026, 3, 1)
    )

    assert errors_of(data) == [
        ("birth_date", "birth date is in the future"),
        ("citizen_id", "citizen ID birth date 2026-03-01 is in the future"),
    ]


def test_it_refuses_a_death_before_birth(committee: Place) -> None:
    assert errors_of(new_resident(committee.pk, date_of_death=date(1949, 12, 30))) == [
        ("date_of_death", "date of death is before the birth date")
    ]


def test_it_accepts_a_death_on_the_day_of_birth(committee: Place) -> None:
    clean = services.check_resident_data(new_resident(committee.pk, date_of_death=BIRTH), today=TODAY)

    assert clean["date_of_death"] == BIRTH


def test_it_refuses_a_place_that_is_not_a_committee(committee: Place) -> None:
    sub_district = Place.objects.filter(level=PlaceLevel.SUB_DISTRICT).first()
    assert sub_district is not None

    assert errors_of(new_resident(sub_district.pk)) == [
        ("committee_id", f"place {sub_district.code} is not a residential committee")
    ]


def test_it_refuses_a_committee_that_does_not_exist() -> None:
    assert errors_of(new_resident(10**9)) == [("committee_id", f"committee {10**9} does not exist")]


def test_it_refuses_a_committee_the_user_cannot_assign(personas: Any, foreign_committee: Place) -> None:
    committees = access.committees_assignable_by(personas.doctor)

    assert errors_of(new_resident(foreign_committee.pk), committees=committees) == [
        ("committee_id", f"you cannot register residents in committee {foreign_committee.code}")
    ]


def test_it_refuses_a_residential_point_of_another_committee(committee: Place) -> None:
    point = ResidentialPoint.objects.exclude(committee=committee).first()
    assert point is not None

    assert errors_of(new_resident(committee.pk, residential_point_id=point.pk)) == [
        ("residential_point_id", f"residential point {point.code} is not in committee {committee.code}")
    ]


def test_it_refuses_a_household_that_does_not_exist(committee: Place) -> None:
    assert errors_of(new_resident(committee.pk, household_id=10**9)) == [
        ("household_id", f"household {10**9} does not exist")
    ]


def test_it_refuses_a_relationship_without_a_household(committee: Place) -> None:
    assert errors_of(new_resident(committee.pk, relationship=Relationship.SPOUSE)) == [
        ("relationship", "a relationship to the head of household needs a household")
    ]


def test_it_requires_living_or_being_registered_here(committee: Place) -> None:
    assert errors_of(new_resident(committee.pk, is_resident=False, is_registered=False)) == [
        ("is_resident", "a resident must live (常住) or be registered (户籍) in the district")
    ]


def test_it_refuses_a_flag_that_is_not_a_boolean(committee: Place) -> None:
    assert errors_of(new_resident(committee.pk, is_resident=None, is_registered="yes")) == [
        ("is_resident", "is_resident must be true or false"),
        ("is_registered", "is_registered must be true or false"),
    ]


def test_it_refuses_unknown_fields(committee: Place) -> None:
    assert errors_of(new_resident(committee.pk, password="x")) == [("password", "unknown field")]


def test_it_keeps_personal_data_out_of_the_exception_text(committee: Place) -> None:
    with pytest.raises(services.RegistryValidationError) as caught:
        services.check_resident_data(new_resident(committee.pk, birth_date=date(1950, 1, 1)), today=TODAY)

    assert str(caught.value) == "invalid registry data: birth_date"


# Creating ----------------------------------------------------------------------------------------------


def test_it_creates_a_resident_and_audits_it_in_one_go(personas: Any, committee: Place) -> None:
    data = new_resident(committee.pk)

    resident = services.do_create_resident(personas.doctor, data, today=TODAY)

    resident.refresh_from_db()
    assert resident.citizen_id == data["citizen_id"]
    assert resident.committee_id == committee.pk
    entry = audit_entries(action=Action.CREATE, resident_id=resident.pk).get()
    assert entry.actor == personas.doctor
    assert entry.resource_type == "resident"
    assert entry.detail["fields"] == sorted(
        ["birth_date", "citizen_id", "committee_id", "is_registered", "is_resident", "name", "phone", "sex"]
    )


def test_it_writes_nothing_for_invalid_data(personas: Any, committee: Place) -> None:
    before = counts()

    with pytest.raises(services.RegistryValidationError):
        services.do_create_resident(
            personas.doctor, new_resident(committee.pk, citizen_id="110105194912310021")
        )

    assert counts() == before


def test_it_refuses_a_duplicate_citizen_id_naming_the_existing_resident(
    personas: Any, resident_in_scope: Resident, committee: Place
) -> None:
    data = new_resident(
        committee.pk,
        citizen_id=resident_in_scope.citizen_id,
        birth_date=resident_in_scope.birth_date,
        sex=resident_in_scope.sex,
    )
    before = counts()

    with pytest.raises(services.DuplicateCitizenIdError) as caught:
        services.do_create_resident(personas.doctor, data)

    assert caught.value.existing_resident_id == resident_in_scope.pk
    assert caught.value.field == "citizen_id"
    assert caught.value.message == f"resident #{resident_in_scope.pk} already has this citizen ID"
    assert counts() == before


def test_it_refuses_a_duplicate_alternative_identifier(personas: Any, committee: Place) -> None:
    holder = Resident.objects.exclude(alt_id_number="").first()
    assert holder is not None
    data = new_resident(
        committee.pk, citizen_id=None, alt_id_type=holder.alt_id_type, alt_id_number=holder.alt_id_number
    )

    with pytest.raises(services.DuplicateAlternativeIdError) as caught:
        services.do_create_resident(personas.doctor, data)

    assert caught.value.existing_resident_id == holder.pk


def test_it_turns_a_lost_race_into_a_clean_duplicate_error(
    personas: Any, resident_in_scope: Resident, committee: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two concurrent creates both pass the duplicate check; the unique constraint stops the second."""
    real_find_duplicate = services.find_duplicate
    calls: list[int] = []

    def check_sees_nothing_yet(data: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else real_find_duplicate(data, **kwargs)

    monkeypatch.setattr(services, "find_duplicate", check_sees_nothing_yet)
    data = new_resident(
        committee.pk,
        citizen_id=resident_in_scope.citizen_id,
        birth_date=resident_in_scope.birth_date,
        sex=resident_in_scope.sex,
    )
    before = counts()

    with pytest.raises(services.DuplicateCitizenIdError) as caught:
        services.do_create_resident(personas.doctor, data)

    assert caught.value.existing_resident_id == resident_in_scope.pk
    assert len(calls) == 2
    assert counts() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_one_of_many_concurrent_creates_through(personas: Any, committee: Place) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writer at a time, so there is no race to lose")
    data = new_resident(committee.pk)
    start = threading.Barrier(8)
    outcomes: list[object] = []

    def create() -> None:
        try:
            start.wait()
            services.do_create_resident(None, data)
            outcomes.append("created")
        except services.DuplicateCitizenIdError as exc:
            outcomes.append(exc.existing_resident_id)
        except Exception as exc:  # anything else is the failure this test is about
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    created = Resident.objects.get(citizen_id=data["citizen_id"])
    assert sorted(outcomes, key=str) == sorted(["created", *[created.pk] * 7], key=str)
    assert audit_entries(action=Action.CREATE, resource_type="resident").count() == 1


def test_it_writes_nothing_when_the_audit_write_fails(
    personas: Any, committee: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_record(**kwargs: Any) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services, "record", broken_record)
    before = counts()

    with pytest.raises(RuntimeError):
        services.do_create_resident(personas.doctor, new_resident(committee.pk))

    assert counts() == before


# Updating ----------------------------------------------------------------------------------------------


def test_it_updates_the_changed_fields_and_audits_them(personas: Any, resident_in_scope: Resident) -> None:
    updated = services.do_update_resident(personas.doctor, resident_in_scope, {"phone": "139 0000 1111"})

    assert updated.phone == "13900001111"
    assert Resident.objects.get(pk=resident_in_scope.pk).phone == "13900001111"
    entry = audit_entries(action=Action.UPDATE, resident_id=resident_in_scope.pk).get()
    assert entry.detail == {"fields": ["phone"]}


def test_it_validates_the_whole_record_on_update(personas: Any, resident_in_scope: Resident) -> None:
    before = Resident.objects.values().get(pk=resident_in_scope.pk)
    audits = AuditEntry.objects.count()

    with pytest.raises(services.RegistryValidationError) as caught:
        services.do_update_resident(personas.doctor, resident_in_scope, {"birth_date": date(1900, 1, 1)})

    assert [field for field, _ in caught.value.errors] == ["birth_date"]
    assert Resident.objects.values().get(pk=resident_in_scope.pk) == before
    assert AuditEntry.objects.count() == audits


def test_it_refuses_to_take_another_residents_citizen_id(personas: Any, resident_in_scope: Resident) -> None:
    other = (
        access.residents_visible_to(personas.doctor)
        .exclude(pk=resident_in_scope.pk)
        .filter(citizen_id__isnull=False)
        .first()
    )
    assert other is not None
    changes = {"citizen_id": other.citizen_id, "birth_date": other.birth_date, "sex": other.sex}

    with pytest.raises(services.DuplicateCitizenIdError) as caught:
        services.do_update_resident(personas.doctor, resident_in_scope, changes)

    assert caught.value.existing_resident_id == other.pk
    assert Resident.objects.get(pk=resident_in_scope.pk).citizen_id == resident_in_scope.citizen_id


def test_it_ignores_values_a_form_already_put_on_the_instance(
    personas: Any, resident_in_scope: Resident
) -> None:
    original_name = resident_in_scope.name
    resident_in_scope.name = "篡改"  # e.g. a ModelForm copied it there before validation

    services.do_update_resident(personas.doctor, resident_in_scope, {"phone": "13900001111"})

    assert Resident.objects.get(pk=resident_in_scope.pk).name == original_name


def test_it_checks_the_committee_only_when_it_changes(
    personas: Any, resident_in_scope: Resident, foreign_committee: Place
) -> None:
    committees = access.committees_assignable_by(personas.doctor)
    services.do_update_resident(personas.doctor, resident_in_scope, {"name": "新名字"}, committees=committees)

    with pytest.raises(services.RegistryValidationError) as caught:
        services.do_update_resident(
            personas.doctor,
            resident_in_scope,
            {"committee_id": foreign_committee.pk, "residential_point_id": None},
            committees=committees,
        )

    assert caught.value.errors == [
        ("committee_id", f"you cannot register residents in committee {foreign_committee.code}")
    ]


def test_it_moves_a_resident_into_a_household(personas: Any, resident_in_scope: Resident) -> None:
    household = Household.objects.exclude(members=resident_in_scope).first()
    assert household is not None

    updated = services.do_update_resident(
        personas.doctor,
        resident_in_scope,
        {"household_id": household.pk, "relationship": Relationship.OTHER},
    )

    assert updated.household_id == household.pk
    assert updated.relationship == Relationship.OTHER


# Key populations ---------------------------------------------------------------------------------------


def test_it_declares_a_key_population_and_audits_it(personas: Any, resident_in_scope: Resident) -> None:
    declaration = services.do_declare_key_population(
        personas.doctor, resident_in_scope, KeyPopulation.DISABLED, valid_from=date(2025, 6, 1), note=" 肢体 "
    )

    assert declaration.declared_by == personas.doctor
    assert declaration.note == "肢体"
    entry = audit_entries(action=Action.CREATE, resource_type="key_population_declaration").get()
    assert entry.resident_id == resident_in_scope.pk
    assert entry.detail == {"key_population": "disabled"}


@pytest.mark.parametrize(
    ("key_population", "valid_until", "expected"),
    [
        (
            KeyPopulation.ELDERLY_65,
            None,
            ("key_population", "elderly_65 follows from the birth date and cannot be declared"),
        ),
        (
            "astronaut",
            None,
            ("key_population", "key population must be one of: " + ", ".join(KeyPopulation.values)),
        ),
        (KeyPopulation.DIABETES, date(2025, 1, 1), ("valid_until", "valid until is before valid from")),
    ],
)
def test_it_refuses_an_invalid_declaration(
    personas: Any, resident_in_scope: Resident, key_population: str, valid_until: date | None, expected: Any
) -> None:
    with pytest.raises(services.RegistryValidationError) as caught:
        services.do_declare_key_population(
            personas.doctor,
            resident_in_scope,
            key_population,
            valid_from=date(2025, 6, 1),
            valid_until=valid_until,
        )

    assert caught.value.errors == [expected]
    assert not KeyPopulationDeclaration.objects.filter(resident=resident_in_scope).exists()


def test_it_refuses_an_overlapping_declaration(personas: Any, resident_in_scope: Resident) -> None:
    services.do_declare_key_population(
        personas.doctor, resident_in_scope, KeyPopulation.POVERTY, valid_from=date(2025, 1, 1)
    )

    with pytest.raises(services.RegistryValidationError) as caught:
        services.do_declare_key_population(
            personas.doctor, resident_in_scope, KeyPopulation.POVERTY, valid_from=date(2025, 6, 1)
        )

    assert caught.value.errors == [("key_population", "poverty is already declared for this period")]
    assert KeyPopulationDeclaration.objects.filter(resident=resident_in_scope).count() == 1
