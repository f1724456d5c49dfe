"""Online signing by the resident and counter signing by a team member, with recorded consents."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from jiayi.registry.choices import InstitutionKind
from jiayi.registry.models import Institution, Resident, Staff
from jiayi.signing.choices import ConsentKind, SigningChannel, SigningStatus
from jiayi.signing.consent import SENSITIVE_INFORMATION, SIGNING_AGREEMENT
from jiayi.signing.models import Consent, ReminderMessage, ServicePackage, Signing

from .helpers import english_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def resident_user(personas: Any) -> Client:
    return english_client_for(personas.resident)


@pytest.fixture
def own_resident(personas: Any) -> Resident:
    resident: Resident = personas.resident.account.resident
    return resident


def _body(doctor: Staff, package: ServicePackage, **extra: Any) -> dict[str, Any]:
    return {
        "family_doctor": doctor.pk,
        "package": package.pk,
        "accept_signing": "1",
        "accept_sensitive": "1",
        **extra,
    }


def test_it_offers_nearby_doctors_with_their_panel_and_the_consent_texts(
    resident_user: Client, own_resident: Resident, packages_now: list[ServicePackage]
) -> None:
    page = resident_user.get("/signing/online/")

    assert page.status_code == 200
    centres = page.context["centres"]
    assert own_resident.committee is not None
    assert centres[0].pk == own_resident.committee.responsible_centre_id
    assert page.context["doctors"]
    assert all(c.doctor.is_registered_gp for c in page.context["doctors"])
    html = page.content.decode()
    assert SIGNING_AGREEMENT.paragraphs[0] in html
    assert f"v{SENSITIVE_INFORMATION.version}" in html
    assert packages_now[0].name in html


def test_it_signs_online_pending_with_both_consents_recorded(
    resident_user: Client,
    own_resident: Resident,
    packages_now: list[ServicePackage],
    personas: Any,
) -> None:
    doctor = resident_user.get("/signing/online/").context["doctors"][0].doctor
    hospital = Institution.objects.filter(kind=InstitutionKind.MUNICIPAL_HOSPITAL).order_by("id").first()
    assert hospital is not None

    response = resident_user.post(
        "/signing/online/", _body(doctor, packages_now[0], municipal_hospital=hospital.pk)
    )

    assert response.status_code == 200
    signing = Signing.objects.get(resident=own_resident)
    assert (signing.status, signing.channel) == (SigningStatus.PENDING, SigningChannel.ONLINE)
    assert signing.family_doctor == doctor
    assert signing.municipal_hospital == hospital
    consents = {c.kind: c for c in Consent.objects.filter(resident=own_resident)}
    assert set(consents) == {ConsentKind.SIGNING, ConsentKind.SENSITIVE_PERSONAL_INFORMATION}
    assert consents[ConsentKind.SIGNING].text_version == SIGNING_AGREEMENT.version
    assert consents[ConsentKind.SIGNING].recorded_by == personas.resident
    assert signing.consent == consents[ConsentKind.SIGNING]
    assert "Signing sent" in response.content.decode()
    # The page now shows the signing instead of a second form.
    again = resident_user.get("/signing/online/")
    assert again.context["open_signing"] == signing
    assert 'id="sign-form"' not in again.content.decode()


def test_it_refuses_without_both_consents_and_writes_nothing(
    resident_user: Client, own_resident: Resident, packages_now: list[ServicePackage]
) -> None:
    doctor = resident_user.get("/signing/online/").context["doctors"][0].doctor
    body = _body(doctor, packages_now[0])
    del body["accept_sensitive"]

    response = resident_user.post("/signing/online/", body)

    assert response.status_code == 422
    assert not Signing.objects.filter(resident=own_resident).exists()
    assert not Consent.objects.filter(resident=own_resident).exists()


def test_it_refuses_a_doctor_not_on_offer(
    resident_user: Client, own_resident: Resident, packages_now: list[ServicePackage]
) -> None:
    doctor = resident_user.get("/signing/online/").context["doctors"][0].doctor
    # Only the doctors listed for the chosen centre can be picked; any other id is not trusted.
    response = resident_user.post("/signing/online/", _body(doctor, packages_now[0], family_doctor=0))
    assert response.status_code == 422
    assert not Signing.objects.filter(resident=own_resident).exists()


def test_it_lets_the_team_confirm_the_online_signing(
    resident_user: Client, own_resident: Resident, packages_now: list[ServicePackage], personas: Any
) -> None:
    doctor_staff: Staff = personas.doctor.account.staff
    resident_user.post("/signing/online/", _body(doctor_staff, packages_now[0]))
    signing = Signing.objects.filter(resident=own_resident).first()
    assert signing is not None
    doctor = english_client_for(personas.doctor)

    to_confirm = doctor.get("/signing/?status=pending")
    assert signing in [row.signing for row in to_confirm.context["rows"]]
    doctor.post(f"/signing/{signing.pk}/confirm/")
    signing.refresh_from_db()
    assert signing.status == SigningStatus.ACTIVE


def test_it_shows_the_resident_why_the_team_declined(
    resident_user: Client, own_resident: Resident, packages_now: list[ServicePackage], personas: Any
) -> None:
    doctor_staff: Staff = personas.doctor.account.staff
    resident_user.post("/signing/online/", _body(doctor_staff, packages_now[0]))
    signing = Signing.objects.get(resident=own_resident)
    english_client_for(personas.doctor).post(f"/signing/{signing.pk}/decline/", {"reason": "名额已满"})

    page = resident_user.get("/signing/online/").content.decode()

    assert 'data-notice="declined"' in page
    assert "名额已满" in page
    assert ReminderMessage.objects.filter(signing=signing, kind="declined").count() == 1


def test_it_keeps_online_signing_to_residents(personas: Any) -> None:
    for user in (personas.doctor, personas.manager, personas.desk):
        assert english_client_for(user).get("/signing/online/").status_code == 404


def test_it_signs_at_the_counter_with_the_same_consent_record(
    personas: Any, resident_in_scope: Resident, doctor_staff: Staff, packages_now: list[ServicePackage]
) -> None:
    nurse = english_client_for(personas.nurse)

    response = nurse.post(f"/signing/counter/{resident_in_scope.pk}/", _body(doctor_staff, packages_now[0]))

    assert response.status_code == 200
    signing = Signing.objects.get(resident=resident_in_scope)
    assert (signing.status, signing.channel) == (SigningStatus.PENDING, SigningChannel.COUNTER)
    kinds = set(Consent.objects.filter(resident=resident_in_scope).values_list("kind", "recorded_by"))
    assert kinds == {
        (ConsentKind.SIGNING, personas.nurse.pk),
        (ConsentKind.SENSITIVE_PERSONAL_INFORMATION, personas.nurse.pk),
    }


def test_it_answers_404_at_the_counter_for_a_resident_out_of_scope(
    personas: Any, resident_out_of_scope: Resident
) -> None:
    assert (
        english_client_for(personas.nurse).get(f"/signing/counter/{resident_out_of_scope.pk}/").status_code
        == 404
    )
    assert (
        english_client_for(personas.resident).get(f"/signing/counter/{resident_out_of_scope.pk}/").status_code
        == 404
    )
