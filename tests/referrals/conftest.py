"""Fixtures of the referral tests: the family doctor persona's staff record, a signed resident, and a
private attachment directory per test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jiayi import access
from jiayi.referrals.models import Department
from jiayi.registry.models import Resident, Staff

from .helpers import make_department, sign_all


@pytest.fixture(autouse=True)
def attachment_dir(settings: Any, tmp_path: Path) -> Path:
    """Files uploaded by a test land in its own directory, never in the project's var/."""
    directory = tmp_path / "attachments"
    settings.JIAYI_ATTACHMENT_DIR = directory
    return directory


@pytest.fixture
def doctor_staff(personas: Any) -> Staff:
    staff: Staff = personas.doctor.account.staff
    return staff


@pytest.fixture
def signed_resident(personas: Any, doctor_staff: Staff) -> Resident:
    """A living resident in the doctor's scope, signed with the doctor."""
    resident = (
        access.residents_visible_to(personas.doctor)
        .exclude(pk=personas.resident.account.resident_id)
        .filter(date_of_death__isnull=True, citizen_id__isnull=False)
        .order_by("id")
        .first()
    )
    assert resident is not None
    sign_all([resident], doctor_staff)
    return resident


@pytest.fixture
def department(personas: Any) -> Department:
    """A department at the referral desk persona's hospital."""
    return make_department(personas.desk.account.institution)
