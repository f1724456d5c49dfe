"""The synthetic district: deterministic, realistic within stated tolerances, valid identifiers."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from jiayi.records.models import Condition, ElderlyExam, Encounter, Medication, Observation
from jiayi.registry.choices import InstitutionKind, PlaceLevel, Profession, Relationship
from jiayi.registry.identity import age_on, parse_citizen_id
from jiayi.registry.models import (
    Household,
    Institution,
    MedicalConsortium,
    Place,
    Resident,
    ResidentialPoint,
    Staff,
    Team,
)
from jiayi.synth import SynthConfig, SynthError, generate_district, people
from jiayi.synth.district import _allocate

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 1, 1)


def _wipe() -> None:
    """Empty the registry inside the test's transaction so a fresh district can be generated."""
    for model in (Observation, Condition, Medication, ElderlyExam, Encounter):
        model.objects.all().delete()
    User.objects.all().delete()
    MedicalConsortium.objects.all().delete()
    Resident.objects.all().delete()
    Household.objects.all().delete()
    ResidentialPoint.objects.all().delete()
    Team.objects.all().delete()
    Place.objects.update(designated_doctor=None, responsible_centre=None)
    Staff.objects.all().delete()
    Institution.objects.filter(parent__isnull=False).delete()
    Institution.objects.all().delete()
    Place.objects.filter(level=PlaceLevel.COMMITTEE).delete()
    Place.objects.filter(level=PlaceLevel.SUB_DISTRICT).delete()
    Place.objects.filter(level=PlaceLevel.DISTRICT).delete()


GENERATED_TABLES = (
    "registry_place",
    "registry_institution",
    "registry_medicalconsortium_members",
    "registry_staff",
    "registry_team",
    "registry_teammembership",
    "registry_team_committees",
    "registry_residentialpoint",
    "registry_household",
    "registry_resident",
    "signing_servicepackage",
    "signing_consent",
    "signing_signing",
    "signing_signingevent",
    "records_encounter",
    "records_condition",
    "records_observation",
    "records_medication",
    "records_elderlyexam",
)


def _fingerprint(path: Path) -> dict[str, str]:
    """A hash of every generated table's rows, in primary-key order."""
    hashes = {}
    with sqlite3.connect(path) as db:
        for table in GENERATED_TABLES:
            digest = hashlib.sha256()
            for row in db.execute(f"SELECT * FROM {table} ORDER BY 1"):  # noqa: S608
                digest.update(repr(row).encode())
            hashes[table] = digest.hexdigest()
    return hashes


def _synth_into_fresh_database(path: Path) -> None:
    env = {**os.environ, "JIAYI_SQLITE_PATH": str(path)}
    env.pop("DATABASE_URL", None)
    for args in (
        ["migrate", "-v0"],
        ["synth", "--residents", "100000", "--seed", "7", "--as-of", "2026-01-01", "--no-progress"],
    ):
        subprocess.run([sys.executable, "-m", "jiayi", *args], env=env, check=True, capture_output=True)


@pytest.mark.slow
def test_it_gives_identical_content_in_two_empty_databases(tmp_path: Path) -> None:
    _synth_into_fresh_database(tmp_path / "a.sqlite3")
    _synth_into_fresh_database(tmp_path / "b.sqlite3")
    assert _fingerprint(tmp_path / "a.sqlite3") == _fingerprint(tmp_path / "b.sqlite3")


def test_it_generates_the_same_district_for_the_same_seed() -> None:
    _wipe()
    generate_district(SynthConfig(residents=3000, seed=7, as_of=AS_OF))
    first = Resident.objects.order_by("id").values_list(
        "citizen_id",
        "name",
        "sex",
        "birth_date",
        "phone",
        "committee__code",
        "household__code",
        "relationship",
    )
    first_rows = list(first)
    first_counts = (Household.objects.count(), ResidentialPoint.objects.count(), Staff.objects.count())
    _wipe()
    generate_district(SynthConfig(residents=3000, seed=7, as_of=AS_OF))
    assert list(first) == first_rows
    assert (
        Household.objects.count(),
        ResidentialPoint.objects.count(),
        Staff.objects.count(),
    ) == first_counts


def test_it_generates_a_different_district_for_another_seed() -> None:
    _wipe()
    generate_district(SynthConfig(residents=500, seed=7, as_of=AS_OF))
    names_7 = list(Resident.objects.order_by("id").values_list("name", flat=True)[:50])
    _wipe()
    generate_district(SynthConfig(residents=500, seed=8, as_of=AS_OF))
    assert list(Resident.objects.order_by("id").values_list("name", flat=True)[:50]) != names_7


def test_it_refuses_a_database_that_already_has_a_district() -> None:
    with pytest.raises(SynthError, match="already holds a district"):
        generate_district(SynthConfig(residents=10, seed=1, as_of=AS_OF))


def test_it_writes_only_valid_unique_citizen_ids_consistent_with_the_record() -> None:
    residents = list(
        Resident.objects.values_list("citizen_id", "birth_date", "sex", "alt_id_type", "alt_id_number")
    )
    ids = [r[0] for r in residents if r[0]]
    assert len(ids) == len(set(ids))
    for citizen_id, birth_date, sex, alt_type, alt_number in residents:
        if citizen_id is None:
            assert alt_type
            assert alt_number
            continue
        parsed = parse_citizen_id(citizen_id, today=AS_OF)
        assert parsed.birth_date == birth_date
        assert parsed.sex == sex


def test_it_places_every_resident_in_a_committee_of_the_district() -> None:
    district = Place.objects.get(code="310105")
    assert Place.objects.filter(parent=district, level=PlaceLevel.SUB_DISTRICT).count() == 10
    assert not Resident.objects.filter(committee__isnull=True).exists()
    assert not Resident.objects.exclude(committee__parent__parent=district).exists()
    # Each committee has a responsible centre and a designated family doctor.
    committees = Place.objects.filter(level=PlaceLevel.COMMITTEE)
    assert not committees.filter(responsible_centre__isnull=True).exists()
    assert not committees.filter(designated_doctor__isnull=True).exists()


def test_it_builds_the_institutions_of_a_changning_like_district() -> None:
    kinds = Counter(Institution.objects.values_list("kind", flat=True))
    assert kinds[InstitutionKind.COMMUNITY_HEALTH_CENTRE] == 10
    assert kinds[InstitutionKind.BRANCH_CENTRE] == 1
    assert kinds[InstitutionKind.REGIONAL_MEDICAL_CENTRE] == 1
    assert kinds[InstitutionKind.DISTRICT_HOSPITAL] >= 1
    assert kinds[InstitutionKind.MUNICIPAL_HOSPITAL] >= 1
    assert kinds[InstitutionKind.CARE_HOME] >= 1
    # Stations belong to a centre.
    assert not Institution.objects.filter(kind=InstitutionKind.STATION, parent__isnull=True).exists()


def test_it_keeps_household_relationships_plausible() -> None:
    for household in Household.objects.prefetch_related("members")[:200]:
        members = list(household.members.all())
        heads = [m for m in members if m.relationship == Relationship.HEAD]
        assert len(heads) == 1
        head = heads[0]
        assert age_on(head.birth_date, AS_OF) >= 18
        for member in members:
            gap = age_on(head.birth_date, AS_OF) - age_on(member.birth_date, AS_OF)
            if member.relationship == Relationship.CHILD:
                assert gap >= 15
            if member.relationship == Relationship.SPOUSE:
                assert abs(gap) <= 12
                assert member.sex != head.sex


@pytest.mark.slow
def test_it_matches_the_configured_distributions_at_100k() -> None:
    """Tolerances: age shares ±1 percentage point, household-size shares ±1 pp, GPs per 10k ±0.1."""
    _wipe()
    cfg = SynthConfig(residents=100_000, seed=7, as_of=AS_OF)
    generate_district(cfg)
    registered = list(Resident.objects.filter(is_registered=True).values_list("birth_date", flat=True))
    ages = [age_on(b, AS_OF) for b in registered]
    share_65 = sum(a >= 65 for a in ages) / len(ages)
    share_80 = sum(a >= 80 for a in ages) / len(ages)
    share_60 = sum(a >= 60 for a in ages) / len(ages)
    assert share_65 == pytest.approx(0.282, abs=0.01)
    assert share_80 == pytest.approx(0.055, abs=0.01)
    assert share_60 == pytest.approx(0.368, abs=0.01)
    assert Resident.objects.filter(is_registered=True).count() / 100_000 == pytest.approx(
        cfg.registered_share, abs=0.01
    )

    sizes = Counter(Counter(Resident.objects.values_list("household_id", flat=True)).values())
    total = sum(sizes.values())
    for size, expected in enumerate(cfg.household_size_shares, start=1):
        assert sizes[size] / total == pytest.approx(expected, abs=0.01), size

    gps = Staff.objects.filter(profession=Profession.FAMILY_DOCTOR, is_registered_gp=True).count()
    assert gps / 10 == pytest.approx(cfg.gps_per_10k, abs=0.1)
    committees = Place.objects.filter(level=PlaceLevel.COMMITTEE).count()
    assert committees == round(100_000 / cfg.residents_per_committee)
    # Men and women: women outnumber men among the oldest.
    old = Resident.objects.filter(birth_date__lte=date(1945, 1, 1))
    assert old.filter(sex="female").count() > old.filter(sex="male").count()


def test_it_validates_its_configuration() -> None:
    with pytest.raises(ValueError, match="residents must be at least 1"):
        SynthConfig(residents=0)
    with pytest.raises(ValueError, match="registered_share must be between 0 and 1"):
        SynthConfig(registered_share=1.5)
    with pytest.raises(ValueError, match="district_code 999999 has no reference data"):
        SynthConfig(district_code="999999")


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [(10, [1.0, 1.0], [5, 5]), (3, [0.1, 0.1, 0.8], [1, 1, 1]), (7, [2.0, 1.0], [5, 2])],
)
def test_it_allocates_integer_parts_proportionally(
    total: int, weights: list[float], expected: list[int]
) -> None:
    assert _allocate(total, weights) == expected


def test_it_offers_a_command_that_refuses_bad_arguments() -> None:
    with pytest.raises(CommandError, match="residents must be at least 1"):
        call_command("synth", "--residents", "0", "--no-progress")


def test_it_refuses_to_write_invalid_citizen_ids() -> None:
    cfg = SynthConfig(residents=200, seed=3, as_of=AS_OF)
    rng = np.random.default_rng(3)
    pop = people.generate_people(cfg, rng)
    ids = people.citizen_ids(pop)
    first = int(np.flatnonzero(ids != "")[0])
    wrong_check = ids.copy()
    last = wrong_check[first][-1]
    wrong_check[first] = wrong_check[first][:-1] + ("0" if last != "0" else "1")
    with pytest.raises(ValueError, match=f"generated person {first}: citizen ID check character"):
        people.check_citizen_ids(pop, wrong_check, sample=1_000, rng=rng)
    wrong_sex = ids.copy()
    pop.male[first] = not pop.male[first]
    with pytest.raises(ValueError, match=f"generated person {first}: sex .* does not match the citizen ID"):
        people.check_citizen_ids(pop, wrong_sex, sample=1_000, rng=rng)
