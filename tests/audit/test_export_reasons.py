"""PIPL: a staff export of personal data states a reason, is refused without one, and the audit entry
carries it; a resident taking their own account states nothing."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from jiayi.audit.export_reasons import ReasonError, needs_reason, require_reason
from jiayi.audit.models import Action, AuditEntry, Outcome
from jiayi.registry.models import Resident
from tests.conftest import Personas

pytestmark = pytest.mark.django_db


def _everything(user: Any, resident_id: int, **query: str) -> Any:
    client = Client()
    client.force_login(user)
    return client.get(f"/api/fhir/Patient/{resident_id}/$everything", query)


def _last_export(user: Any) -> AuditEntry:
    return AuditEntry.objects.filter(action=Action.EXPORT, actor=user).latest("id")


def test_a_reason_is_a_listed_code_and_the_users_own_words() -> None:
    stated = require_reason(" referral ", "  转诊至区中心医院\n心内科  ")
    assert (stated.code, stated.detail) == ("referral", "转诊至区中心医院 心内科")
    assert stated.purpose == "export (referral): 转诊至区中心医院 心内科"
    assert stated.audit_detail() == {"reason": "referral", "reason_detail": "转诊至区中心医院 心内科"}


@pytest.mark.parametrize(
    ("code", "detail", "field"),
    [
        (None, "quarterly record review", "reason"),
        ("", "quarterly record review", "reason"),
        ("curiosity", "quarterly record review", "reason"),
        ("quality_review", None, "reason_detail"),
        ("quality_review", "   short ", "reason_detail"),
        ("quality_review", "x" * 161, "reason_detail"),
    ],
)
def test_an_unusable_reason_names_its_field(code: str | None, detail: str | None, field: str) -> None:
    with pytest.raises(ReasonError) as raised:
        require_reason(code, detail)
    assert raised.value.field == field


def test_staff_state_reasons_and_residents_do_not(personas: Personas) -> None:
    assert needs_reason(personas.doctor)
    assert needs_reason(personas.manager)
    assert not needs_reason(personas.resident)


def test_a_staff_export_without_a_reason_is_refused_and_audited(
    personas: Personas, resident_in_scope: Resident
) -> None:
    response = _everything(personas.doctor, resident_in_scope.pk)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "reason"
    assert "resourceType" not in response.content.decode()
    refused = _last_export(personas.doctor)
    assert (refused.outcome, refused.resident_id) == (Outcome.INVALID, resident_in_scope.pk)

    response = _everything(personas.doctor, resident_in_scope.pk, reason="care", reason_detail="ok")
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "reason_detail"


def test_a_staff_export_with_a_reason_is_audited_with_it(
    personas: Personas, resident_in_scope: Resident
) -> None:
    response = _everything(
        personas.doctor, resident_in_scope.pk, reason="referral", reason_detail="转诊至区中心医院心内科"
    )
    assert response.status_code == 200
    assert response.json()["resourceType"] == "Bundle"
    entry = _last_export(personas.doctor)
    assert entry.outcome == Outcome.OK
    assert entry.purpose == "export (referral): 转诊至区中心医院心内科"
    assert entry.detail["reason"] == "referral"
    assert entry.detail["reason_detail"] == "转诊至区中心医院心内科"


def test_out_of_scope_is_404_before_any_question_of_reason(
    personas: Personas, resident_out_of_scope: Resident
) -> None:
    assert _everything(personas.doctor, resident_out_of_scope.pk).status_code == 404


def test_a_resident_downloads_their_own_account_without_a_reason(personas: Personas) -> None:
    own = personas.resident.account.resident_id
    assert own is not None
    assert _everything(personas.resident, own).status_code == 200
    assert _last_export(personas.resident).purpose == "own data download"


def test_the_export_command_needs_a_reason_and_records_it(resident_in_scope: Resident) -> None:
    with pytest.raises(CommandError, match="--reason: state why"):
        call_command(
            "export-fhir", "--resident", str(resident_in_scope.pk), "--no-progress", stdout=StringIO()
        )
    with pytest.raises(CommandError, match="--reason-detail"):
        call_command(
            "export-fhir",
            "--resident",
            str(resident_in_scope.pk),
            "--reason",
            "legal_duty",
            stdout=StringIO(),
        )
    before = AuditEntry.objects.filter(action=Action.EXPORT).count()
    call_command(
        "export-fhir",
        "--resident",
        str(resident_in_scope.pk),
        "--reason",
        "legal_duty",
        "--reason-detail",
        "infectious disease case report",
        stdout=StringIO(),
    )
    entry = AuditEntry.objects.filter(action=Action.EXPORT).latest("id")
    assert AuditEntry.objects.filter(action=Action.EXPORT).count() == before + 1
    assert entry.resident_id == resident_in_scope.pk
    assert entry.detail["reason"] == "legal_duty"
    assert entry.purpose == "export (legal_duty): infectious disease case report"
