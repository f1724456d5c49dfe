"""Shared fixtures: a small synthetic district generated once per test session, and one persona per role.

Tests that run in transactions (the default `db` fixture) see the session's district and roll back
their own changes. Tests using `transactional_db` or `live_server` leave the tables flushed behind
them; `ensure_district()` regenerates the district when a later test finds it gone.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from jiayi import access
from jiayi.registry.demo import DEMO_PASSWORD, create_demo_accounts
from jiayi.registry.models import Resident
from jiayi.synth import SynthConfig, generate_district

# A fixed field-encryption key, so every run (and every subprocess a test starts) reads the same
# ciphertext; Django's settings are loaded before this module, hence both assignments.
TEST_FIELD_KEY = "1:" + base64.b64encode(bytes(range(64))).decode("ascii")
os.environ["JIAYI_FIELD_KEY"] = TEST_FIELD_KEY
os.environ.pop("JIAYI_FIELD_OLD_KEYS", None)
settings.JIAYI_FIELD_KEY = TEST_FIELD_KEY
settings.JIAYI_FIELD_OLD_KEYS = ""

TEST_DISTRICT = SynthConfig(residents=600, seed=1, as_of=date(2026, 1, 1))


def ensure_district() -> None:
    if not Resident.objects.exists():
        generate_district(TEST_DISTRICT)
        create_demo_accounts()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        ensure_district()


@dataclass(frozen=True)
class Personas:
    """One user per role, plus a family doctor of another centre."""

    doctor: User
    nurse: User
    manager: User
    other_doctor: User
    desk: User
    cdc: User
    analyst: User
    admin: User
    resident: User
    password: str = DEMO_PASSWORD


@pytest.fixture
def personas(db: None) -> Personas:
    ensure_district()
    users = {u.username: u for u in User.objects.select_related("account").all()}
    return Personas(
        doctor=users["doctor"],
        nurse=users["nurse"],
        manager=users["manager"],
        other_doctor=users["doctor2"],
        desk=users["desk"],
        cdc=users["cdc"],
        analyst=users["analyst"],
        admin=users["admin"],
        resident=users["resident"],
    )


@pytest.fixture
def resident_in_scope(personas: Personas) -> Resident:
    """A living resident the family doctor's team serves (not the resident persona)."""
    resident = (
        access.residents_visible_to(personas.doctor)
        .exclude(pk__in=[personas.resident.account.resident_id])
        .filter(date_of_death__isnull=True, citizen_id__isnull=False)
        .order_by("id")
        .first()
    )
    assert resident is not None
    return resident


@pytest.fixture
def resident_out_of_scope(personas: Personas) -> Resident:
    """A resident the other centre's doctor serves and the family doctor must not see."""
    resident = (
        access.residents_visible_to(personas.other_doctor)
        .exclude(pk__in=access.residents_visible_to(personas.doctor))
        .filter(citizen_id__isnull=False)
        .order_by("id")
        .first()
    )
    assert resident is not None
    return resident
