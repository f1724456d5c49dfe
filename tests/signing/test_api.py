"""The signing API: scope by team, centre and self (404 outside it), writes, errors and audit."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayi import access
from jiayi.audit.models import Action, AuditEntry, Outcome
from jiayi.registry.choices import Relationship
from jiayi.registry.models import Institution, Resident, Staff
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import Consent, ServicePackage, Signing

from .helpers import client_for, consent_for, make_gp, post, sign

pytestmark = pytest.mark.django_db
URL = "/api/signing"
# A full citizen ID or mainland mobile number: no signing response may carry one (security.md E2).
UNMASKED = re.compile(r"\d{17}[\dXx]|1[3-9]\d{9}")
NOT_FOUND = {"detail": "Not Found"}


@pytest.fixture
def doctor(personas: Any) -> Client:
    return client_for(personas.doctor)


@pytest.fixture
def package_now(packages_now: list[ServicePackage]) -> ServicePackage:
    return packages_now[0]


def signed_now(
    resident: Resident, doctor: Staff, package: ServicePackage, *, confirm: bool = True
) -> Signing:
    return sign(resident, doctor, package, confirm=confirm, today=timezone.localdate())


@pytest.fixture
def own_signing(resident_in_scope: Resident, doctor_staff: Staff, package_now: ServicePackage) -> Signing:
    return signed_now(resident_in_scope, doctor_staff, package_now)


@pytest.fixture
def other_signing(personas: Any, resident_out_of_scope: Resident, package_now: ServicePackage) -> Signing:
    return signed_now(resident_out_of_scope, personas.other_doctor.account.staff, package_now)


# Access policy -----------------------------------------------------------------------------------------


def test_it_scopes_signings_by_role(
    personas: Any,
    doctor_staff: Staff,
    own_signing: Signing,
    other_signing: Signing,
    package_now: ServicePackage,
) -> None:
    person: Resident = personas.resident.account.resident
    residents = signed_now(person, doctor_staff, package_now)

    def visible(user: Any) -> set[int]:
        return set(access.signings_visible_to(user).values_list("pk", flat=True))

    assert visible(personas.doctor) == {own_signing.pk, residents.pk}
    assert visible(personas.nurse) == {own_signing.pk, residents.pk}
    assert visible(personas.manager) == {own_signing.pk, residents.pk}
    assert visible(personas.other_doctor) == {other_signing.pk}
    assert visible(personas.resident) == {residents.pk}
    for user in (personas.desk, personas.cdc, personas.analyst, personas.admin, None):
        assert visible(user) == set()
    assert set(access.signings_editable_by(personas.resident)) == set()
    assert set(access.signings_editable_by(personas.nurse)) == {own_signing, residents}


def test_it_shows_a_manager_the_centres_signings_of_every_team(
    personas: Any, resident_in_scope: Resident, doctor_staff: Staff, package_now: ServicePackage
) -> None:
    colleague = make_gp(doctor_staff.institution.centre, "T-GP-09")
    signing = signed_now(resident_in_scope, colleague, package_now)

    assert signing in access.signings_visible_to(personas.manager)
    assert signing not in access.signings_visible_to(personas.doctor)


# Reading -----------------------------------------------------------------------------------------------


def test_it_requires_authentication(client: Client) -> None:
    assert client.get(f"{URL}/signings").status_code == 401
    assert post(client, f"{URL}/signings", {}).status_code == 401


def test_it_lists_the_teams_signings_and_audits_the_search(
    personas: Any, doctor: Client, own_signing: Signing, other_signing: Signing
) -> None:
    response = doctor.get(f"{URL}/signings?status=active")

    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["items"]] == [own_signing.pk]
    assert body["items"][0]["resident"] == {"id": own_signing.resident_id, "name": own_signing.resident.name}
    entry = AuditEntry.objects.filter(resource_type="signing", action=Action.SEARCH).latest("id")
    assert entry.detail["resident_ids"] == [own_signing.resident_id]


def test_it_refuses_lists_to_roles_without_signings(personas: Any) -> None:
    for user in (personas.analyst, personas.cdc, personas.desk, personas.admin):
        assert client_for(user).get(f"{URL}/signings").status_code == 403


def test_it_rejects_unknown_filters(doctor: Client) -> None:
    response = doctor.get(f"{URL}/signings?status__in=active")

    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "status__in"


def test_it_reads_a_signing_with_its_history(doctor: Client, own_signing: Signing) -> None:
    response = doctor.get(f"{URL}/signings/{own_signing.pk}")

    assert response.status_code == 200
    assert not UNMASKED.search(response.content.decode())
    assert not UNMASKED.search(doctor.get(f"{URL}/signings").content.decode())
    body = response.json()
    assert body["status"] == SigningStatus.ACTIVE
    assert [e["to_status"] for e in body["events"]] == [SigningStatus.PENDING, SigningStatus.ACTIVE]
    assert AuditEntry.objects.filter(
        resource_type="signing", resource_id=str(own_signing.pk), action=Action.READ, outcome=Outcome.OK
    ).exists()


def test_it_answers_404_to_a_family_doctor_for_another_teams_signing(
    doctor: Client, other_signing: Signing
) -> None:
    nonexistent = doctor.get(f"{URL}/signings/999999999")
    response = doctor.get(f"{URL}/signings/{other_signing.pk}")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert (nonexistent.status_code, nonexistent.json()) == (404, NOT_FOUND)
    denial = AuditEntry.objects.filter(resource_id=str(other_signing.pk), outcome=Outcome.DENIED).get()
    assert denial.resident_id == other_signing.resident_id


@pytest.mark.parametrize("action", ["confirm", "terminate", "decline", "renew"])
def test_it_answers_404_to_changes_of_another_teams_signing(
    doctor: Client, other_signing: Signing, action: str
) -> None:
    body = {"reason": "death"} if action in ("terminate", "decline") else {}

    response = post(doctor, f"{URL}/signings/{other_signing.pk}/{action}", body)

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    other_signing.refresh_from_db()
    assert other_signing.status == SigningStatus.ACTIVE


def test_it_lets_a_resident_read_but_not_change_their_signing(
    personas: Any, doctor_staff: Staff, package_now: ServicePackage, own_signing: Signing
) -> None:
    mine = signed_now(personas.resident.account.resident, doctor_staff, package_now)
    client = client_for(personas.resident)

    assert client.get(f"{URL}/signings/{mine.pk}").status_code == 200
    assert [i["id"] for i in client.get(f"{URL}/signings").json()["items"]] == [mine.pk]
    assert client.get(f"{URL}/signings/{own_signing.pk}").status_code == 404
    assert post(client, f"{URL}/signings/{mine.pk}/terminate", {"reason": "death"}).status_code == 403


def test_it_lists_packages(personas: Any, package_now: ServicePackage) -> None:
    response = client_for(personas.resident).get(f"{URL}/packages?year={package_now.year}")

    assert response.status_code == 200
    assert [p["code"] for p in response.json()] == ["BASIC"]
    assert response.json()[0]["contacts_per_year"] == 4


# Writing -----------------------------------------------------------------------------------------------


def create_body(resident: Resident, doctor: Staff, package: ServicePackage, **extra: Any) -> dict[str, Any]:
    return {"resident_id": resident.pk, "family_doctor_id": doctor.pk, "package_id": package.pk, **extra}


def test_it_signs_with_consent_given_now_and_confirms(
    doctor: Client,
    resident_in_scope: Resident,
    doctor_staff: Staff,
    package_now: ServicePackage,
    district_hospital: Institution,
    municipal_hospital: Institution,
) -> None:
    body = create_body(
        resident_in_scope,
        doctor_staff,
        package_now,
        district_hospital_id=district_hospital.pk,
        municipal_hospital_id=municipal_hospital.pk,
        consent={"text_version": "2026.1"},
    )

    created = post(doctor, f"{URL}/signings", body)

    assert created.status_code == 201, created.json()
    signing_id = created.json()["id"]
    assert created.json()["status"] == SigningStatus.PENDING
    assert Consent.objects.filter(resident=resident_in_scope, text_version="2026.1").count() == 1
    confirmed = post(doctor, f"{URL}/signings/{signing_id}/confirm")
    assert (confirmed.status_code, confirmed.json()["status"]) == (200, SigningStatus.ACTIVE)
    again = post(doctor, f"{URL}/signings/{signing_id}/confirm")
    assert again.status_code == 409
    assert "cannot become active" in again.json()["detail"]


def test_it_answers_422_without_consent_and_writes_nothing(
    doctor: Client, resident_in_scope: Resident, doctor_staff: Staff, package_now: ServicePackage
) -> None:
    response = post(doctor, f"{URL}/signings", create_body(resident_in_scope, doctor_staff, package_now))

    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "consent"
    assert not Signing.objects.filter(resident=resident_in_scope).exists()


def test_it_answers_409_naming_the_open_signing(
    doctor: Client, own_signing: Signing, doctor_staff: Staff, package_now: ServicePackage
) -> None:
    response = post(doctor, f"{URL}/signings", create_body(own_signing.resident, doctor_staff, package_now))

    assert response.status_code == 409
    assert response.json()["existing_signing_id"] == own_signing.pk


def test_it_answers_422_for_tier_errors_by_field(
    doctor: Client, resident_in_scope: Resident, doctor_staff: Staff, package_now: ServicePackage
) -> None:
    consent_for(resident_in_scope)
    hospital = Institution.objects.get(pk=doctor_staff.institution.centre.pk)

    response = post(
        doctor,
        f"{URL}/signings",
        create_body(resident_in_scope, doctor_staff, package_now, district_hospital_id=hospital.pk),
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == ["district_hospital_id"]


def test_it_answers_404_for_a_resident_out_of_scope(
    doctor: Client, resident_out_of_scope: Resident, doctor_staff: Staff, package_now: ServicePackage
) -> None:
    response = post(doctor, f"{URL}/signings", create_body(resident_out_of_scope, doctor_staff, package_now))

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert not Signing.objects.filter(resident=resident_out_of_scope).exists()


def test_it_refuses_a_family_doctor_of_another_centre(
    personas: Any, doctor: Client, resident_in_scope: Resident, package_now: ServicePackage
) -> None:
    consent_for(resident_in_scope)
    body = create_body(resident_in_scope, personas.other_doctor.account.staff, package_now)

    response = post(doctor, f"{URL}/signings", body)

    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "family_doctor_id"


def test_it_refuses_signing_to_non_clinical_roles(
    personas: Any, resident_in_scope: Resident, doctor_staff: Staff, package_now: ServicePackage
) -> None:
    for user in (personas.resident, personas.analyst, personas.admin):
        response = post(
            client_for(user), f"{URL}/signings", create_body(resident_in_scope, doctor_staff, package_now)
        )
        assert response.status_code == 403


def test_it_declines_and_terminates(
    doctor: Client, residents_in_scope: list[Resident], doctor_staff: Staff, package_now: ServicePackage
) -> None:
    pending = signed_now(residents_in_scope[0], doctor_staff, package_now, confirm=False)
    active = signed_now(residents_in_scope[1], doctor_staff, package_now)

    declined = post(doctor, f"{URL}/signings/{pending.pk}/decline", {"reason": "已在外区签约"})
    other = post(doctor, f"{URL}/signings/{active.pk}/terminate", {"reason": "other"})
    terminated = post(
        doctor, f"{URL}/signings/{active.pk}/terminate", {"reason": "other", "note": "本人要求"}
    )

    assert (declined.status_code, declined.json()["status"]) == (200, SigningStatus.DECLINED)
    assert declined.json()["events"][-1]["note"] == "已在外区签约"
    assert other.status_code == 422
    assert (terminated.status_code, terminated.json()["status"]) == (200, SigningStatus.TERMINATED)
    assert terminated.json()["events"][-1]["actor_name"] == "doctor"


def test_it_renews_through_the_api(
    doctor: Client, own_signing: Signing, packages_now: list[ServicePackage]
) -> None:
    Signing.objects.filter(pk=own_signing.pk).update(ends_on=timezone.localdate())

    response = post(doctor, f"{URL}/signings/{own_signing.pk}/renew")

    assert response.status_code == 201, response.json()
    assert response.json()["previous_id"] == own_signing.pk
    own_signing.refresh_from_db()
    assert own_signing.status == SigningStatus.EXPIRED
    assert post(doctor, f"{URL}/signings/{own_signing.pk}/renew").status_code == 409


def test_it_switches_doctor_within_the_period_through_the_api(
    doctor: Client, own_signing: Signing, second_gp: Staff
) -> None:
    url = f"{URL}/signings/{own_signing.pk}/switch-doctor"
    missing = post(doctor, url, {"family_doctor_id": second_gp.pk, "reason": ""})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["field"] == "reason"

    response = post(doctor, url, {"family_doctor_id": second_gp.pk, "reason": "居民申请更换"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["previous_id"], body["family_doctor"]["id"]) == (own_signing.pk, second_gp.pk)
    own_signing.refresh_from_db()
    assert own_signing.status == SigningStatus.TRANSFERRED
    assert post(doctor, url, {"family_doctor_id": second_gp.pk, "reason": "again"}).status_code == 409


def test_it_refuses_renewal_before_the_window(doctor: Client, own_signing: Signing) -> None:
    response = post(doctor, f"{URL}/signings/{own_signing.pk}/renew")

    assert response.status_code == 409
    assert "renewal opens on" in response.json()["detail"]


def test_it_signs_a_household_with_per_member_outcomes(
    personas: Any,
    doctor: Client,
    doctor_staff: Staff,
    package_now: ServicePackage,
    resident_out_of_scope: Resident,
) -> None:
    head: Resident = personas.resident.account.resident
    assert head.household is not None
    spouse = head.household.members.get(relationship=Relationship.SPOUSE)
    consent_for(head)

    response = post(
        doctor,
        f"{URL}/households/{head.household_id}/signings",
        {
            "member_ids": [head.pk, spouse.pk, resident_out_of_scope.pk],
            "family_doctor_id": doctor_staff.pk,
            "package_id": package_now.pk,
        },
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["signed"], body["not_signed"]) == (1, 2)
    members = {m["resident_id"]: m for m in body["members"]}
    assert members[head.pk]["signed"]
    assert members[spouse.pk]["errors"][0]["field"] == "consent"
    assert members[resident_out_of_scope.pk]["errors"] == [
        {"field": "resident_id", "message": "no such member of this household"}
    ]


def test_it_records_household_consent_for_each_member(
    personas: Any, doctor: Client, doctor_staff: Staff, package_now: ServicePackage
) -> None:
    head: Resident = personas.resident.account.resident
    assert head.household is not None
    spouse = head.household.members.get(relationship=Relationship.SPOUSE)

    response = post(
        doctor,
        f"{URL}/households/{head.household_id}/signings",
        {
            "member_ids": [head.pk, spouse.pk],
            "family_doctor_id": doctor_staff.pk,
            "package_id": package_now.pk,
            "consent": {"text_version": "2026.1", "proxy_resident_id": head.pk},
        },
    )

    assert response.json()["signed"] == 2
    assert Consent.objects.get(resident=spouse).proxy == head


def test_it_answers_404_for_a_household_out_of_scope(
    doctor: Client, resident_out_of_scope: Resident, doctor_staff: Staff, package_now: ServicePackage
) -> None:
    assert resident_out_of_scope.household_id is not None

    response = post(
        doctor,
        f"{URL}/households/{resident_out_of_scope.household_id}/signings",
        {
            "member_ids": [resident_out_of_scope.pk],
            "family_doctor_id": doctor_staff.pk,
            "package_id": package_now.pk,
        },
    )

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_it_lists_signings_in_a_fixed_number_of_queries(
    doctor: Client, residents_in_scope: list[Resident], doctor_staff: Staff, package_now: ServicePackage
) -> None:
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert doctor.get(f"{URL}/signings").status_code == 200
        return len(captured)

    for resident in residents_in_scope[:2]:
        signed_now(resident, doctor_staff, package_now)
    few = queries_for_list()
    for resident in residents_in_scope[2:6]:
        signed_now(resident, doctor_staff, package_now)

    assert queries_for_list() == few


def test_it_lets_only_the_centres_clinical_roles_name_family_doctors(
    personas: Any, doctor_staff: Staff, second_gp: Staff
) -> None:
    other: Staff = personas.other_doctor.account.staff
    for user in (personas.doctor, personas.nurse, personas.manager):
        assignable = access.family_doctors_assignable_by(user)
        assert {doctor_staff, second_gp} <= set(assignable)
        assert other not in assignable
    for user in (personas.resident, personas.analyst, personas.admin, personas.desk, None):
        assert not access.family_doctors_assignable_by(user).exists()
    assert access.can_transfer_panels(personas.manager)
    assert not any(access.can_transfer_panels(u) for u in (personas.doctor, personas.nurse, personas.admin))
    assert access.service_packages_visible_to(personas.resident).model is ServicePackage
    assert not access.service_packages_visible_to(None).exists()
