"""Break-glass (B1): a reason is required, access is granted for the window only and to that one record,
every step is audited with the reason, and the resident's centre manager reviews it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from jiayi import access
from jiayi.audit import break_glass
from jiayi.audit.models import Action, AuditEntry, BreakGlass, Outcome, Review
from jiayi.registry.models import Resident
from tests.conftest import Personas

pytestmark = pytest.mark.django_db

REASON = "unconscious at the clinic door, needs allergy history"


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _foreign_resident(personas: Personas) -> Resident:
    """A resident of the other centre, with a citizen ID, outside the family doctor's scope."""
    resident = (
        Resident.objects.exclude(pk__in=access.residents_visible_to(personas.doctor))
        .exclude(committee__responsible_centre=access.centre_of(personas.manager.account))
        .filter(citizen_id__isnull=False)
        .order_by("id")
        .first()
    )
    assert resident is not None
    return resident


def _open(client: Client, resident: Resident, reason: str = REASON) -> object:
    return client.post("/audit/break-glass/", {"identifier": resident.citizen_id, "reason": reason})


def test_without_a_reason_it_is_refused_with_400_and_grants_nothing(personas: Personas) -> None:
    resident = _foreign_resident(personas)
    client = _client(personas.doctor)
    for reason in ("", "   ", "urgent"):
        response = _open(client, resident, reason)
        assert response.status_code == 400  # type: ignore[attr-defined]
        assert resident.citizen_id not in response.content.decode()  # type: ignore[attr-defined]
    assert not BreakGlass.objects.filter(resident=resident).exists()
    assert client.get(f"/records/{resident.pk}/").status_code == 404


def test_with_a_reason_it_opens_that_record_only_until_the_window_ends(personas: Personas) -> None:
    resident = _foreign_resident(personas)
    client = _client(personas.doctor)
    assert client.get(f"/records/{resident.pk}/").status_code == 404

    response = _open(client, resident)
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response["Location"] == f"/records/{resident.pk}/"  # type: ignore[index]
    assert client.get(f"/records/{resident.pk}/").status_code == 200
    # Only the health account: lists, registry pages and edits keep their scope.
    assert not access.residents_visible_to(personas.doctor).filter(pk=resident.pk).exists()
    assert client.get(f"/residents/{resident.pk}/").status_code == 404
    # Nobody else gains anything from the grant.
    assert client.get(f"/records/{_another_foreign(personas, resident).pk}/").status_code == 404
    assert _client(personas.nurse).get(f"/records/{resident.pk}/").status_code == 404

    grant = BreakGlass.objects.get(user=personas.doctor, resident=resident)
    assert grant.expires_at - grant.started_at == timedelta(hours=break_glass.DEFAULT_HOURS)
    grant.expires_at = timezone.now() - timedelta(seconds=1)
    grant.save(update_fields=["expires_at"])
    assert client.get(f"/records/{resident.pk}/").status_code == 404


def _another_foreign(personas: Personas, resident: Resident) -> Resident:
    other = (
        Resident.objects.exclude(pk__in=access.residents_visible_to(personas.doctor))
        .exclude(pk=resident.pk)
        .order_by("id")
        .first()
    )
    assert other is not None
    return other


def test_the_audit_rows_carry_the_reason_and_the_resident_sees_them(personas: Personas) -> None:
    resident = _foreign_resident(personas)
    _open(_client(personas.doctor), resident)
    entry = AuditEntry.objects.filter(action=Action.BREAK_GLASS, resident_id=resident.pk).get()
    assert entry.purpose == REASON
    assert entry.outcome == Outcome.OK
    assert entry.actor_id == personas.doctor.pk
    assert entry.detail["grant"] == BreakGlass.objects.get(resident=resident).pk


def test_roles_that_do_not_treat_and_superusers_are_refused(personas: Personas) -> None:
    resident = _foreign_resident(personas)
    for user in (personas.desk, personas.analyst, personas.admin, personas.resident, personas.cdc):
        assert _open(_client(user), resident).status_code == 404  # type: ignore[attr-defined]
    root = User.objects.create_superuser("root-bg", password="x-very-long-password-1")
    with pytest.raises(break_glass.BreakGlassError):
        break_glass.open_break_glass(
            request=None, user=root, identifier=resident.citizen_id or "", reason=REASON
        )
    assert not BreakGlass.objects.filter(resident=resident).exists()


def test_a_resident_already_in_scope_is_opened_directly_not_by_break_glass(
    personas: Personas, resident_in_scope: Resident
) -> None:
    response = _open(_client(personas.doctor), resident_in_scope)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert not BreakGlass.objects.exists()


def test_the_residents_centre_manager_reviews_and_the_review_is_audited(personas: Personas) -> None:
    # The other centre's doctor breaks glass on a resident of the manager's centre.
    resident = (
        access.residents_visible_to(personas.manager)
        .exclude(pk__in=access.residents_visible_to(personas.other_doctor))
        .filter(citizen_id__isnull=False)
        .order_by("id")
        .first()
    )
    assert resident is not None
    assert _open(_client(personas.other_doctor), resident).status_code == 302  # type: ignore[attr-defined]
    grant = BreakGlass.objects.get(resident=resident)

    manager = _client(personas.manager)
    page = manager.get("/audit/break-glass/")
    assert page.status_code == 200
    assert REASON in page.content.decode()
    assert resident.name not in page.content.decode()  # names are masked in the list

    # A doctor is no reviewer; the manager must say why when flagging.
    assert _client(personas.doctor).post(f"/audit/break-glass/{grant.pk}/review/").status_code == 404
    assert manager.post(f"/audit/break-glass/{grant.pk}/review/", {"decision": "flagged"}).status_code == 400
    response = manager.post(
        f"/audit/break-glass/{grant.pk}/review/", {"decision": "flagged", "note": "no visit recorded"}
    )
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.review == Review.FLAGGED
    assert grant.reviewed_by == personas.manager
    assert AuditEntry.objects.filter(
        action=Action.REVIEW, resource_id=str(grant.pk), outcome=Outcome.OK
    ).exists()


def test_the_window_follows_the_setting(personas: Personas, settings: object) -> None:
    settings.JIAYI_BREAK_GLASS_HOURS = 1  # type: ignore[attr-defined]
    resident = _foreign_resident(personas)
    grant = break_glass.open_break_glass(
        request=None, user=personas.doctor, identifier=resident.citizen_id or "", reason=REASON
    )
    assert grant.expires_at - grant.started_at == timedelta(hours=1)
