"""The FHIR export of a signing: EpisodeOfCare and CareTeam, valid R4B."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.episodeofcare import EpisodeOfCare

from jiayi.audit.models import Action, AuditEntry
from jiayi.registry.models import Institution, Resident, Staff
from jiayi.signing import fhir, services
from jiayi.signing.choices import TerminationReason
from jiayi.signing.models import ServicePackage

from .helpers import client_for, sign


def test_it_exports_an_active_111_signing_as_a_valid_episode_of_care(
    resident_in_scope: Resident,
    doctor_staff: Staff,
    package: ServicePackage,
    district_hospital: Institution,
    municipal_hospital: Institution,
    specialist: Staff,
) -> None:
    signing = sign(
        resident_in_scope,
        doctor_staff,
        package,
        confirm=True,
        district_hospital=district_hospital,
        municipal_hospital=municipal_hospital,
        specialist=specialist,
    )

    episode = fhir.episode_of_care(signing)
    EpisodeOfCare.model_validate(episode)

    assert episode["status"] == "active"
    assert episode["managingOrganization"]["identifier"]["value"] == signing.centre.code
    assert episode["careManager"]["identifier"]["value"] == doctor_staff.code
    assert episode["period"] == {"start": "2026-03-01", "end": "2027-02-28"}
    assert [h["status"] for h in episode["statusHistory"]] == ["planned", "active"]
    assert "end" in episode["statusHistory"][0]["period"]
    assert episode["team"] == [{"reference": f"CareTeam/signing-{signing.pk}-care-team"}]
    assert resident_in_scope.citizen_id not in str(episode)


def test_it_exports_the_care_team_with_the_three_institutions_and_the_specialist(
    resident_in_scope: Resident,
    doctor_staff: Staff,
    package: ServicePackage,
    district_hospital: Institution,
    municipal_hospital: Institution,
    specialist: Staff,
) -> None:
    signing = sign(
        resident_in_scope,
        doctor_staff,
        package,
        confirm=True,
        district_hospital=district_hospital,
        municipal_hospital=municipal_hospital,
        specialist=specialist,
    )

    team = fhir.care_team(signing)
    CareTeam.model_validate(team)

    organisations = [o["identifier"]["value"] for o in team["managingOrganization"]]
    assert organisations == [signing.centre.code, district_hospital.code, municipal_hospital.code]
    roles = [p["role"][0]["coding"][0]["code"] for p in team["participant"]]
    assert roles[0] == "family_doctor"
    assert roles[-1] == "specialist"
    assert team["participant"][0]["member"]["identifier"]["value"] == doctor_staff.code
    members = {p["member"]["identifier"]["value"] for p in team["participant"]}
    assert members >= {m.code for m in signing.team.members.all()}
    assert team["status"] == "active"


def test_it_maps_pending_and_terminated_signings_and_bundles_both_resources(
    resident_in_scope: Resident, doctor_staff: Staff, package: ServicePackage
) -> None:
    signing = sign(resident_in_scope, doctor_staff, package)
    assert fhir.episode_of_care(signing)["status"] == "planned"
    assert fhir.care_team(signing)["status"] == "proposed"

    services.do_confirm_signing(None, signing)
    ended = services.do_terminate_signing(None, signing, TerminationReason.MOVED_AWAY)
    bundle: dict[str, Any] = fhir.signing_bundle(ended)
    Bundle.model_validate(bundle)

    episode, team = (entry["resource"] for entry in bundle["entry"])
    assert episode["status"] == "finished"
    assert episode["extension"][0]["valueCoding"]["code"] == "terminated"
    assert [h["status"] for h in episode["statusHistory"]] == ["planned", "active", "finished"]
    assert team["status"] == "inactive"


def test_it_exports_through_the_api_within_scope_only(
    personas: Any,
    resident_in_scope: Resident,
    resident_out_of_scope: Resident,
    doctor_staff: Staff,
    packages_now: list[ServicePackage],
) -> None:
    today = timezone.localdate()
    own = sign(resident_in_scope, doctor_staff, packages_now[0], confirm=True, today=today)
    other = sign(
        resident_out_of_scope, personas.other_doctor.account.staff, packages_now[0], confirm=True, today=today
    )
    doctor = client_for(personas.doctor)

    response = doctor.get(f"/api/signing/signings/{own.pk}/fhir")

    assert response.status_code == 200
    Bundle.model_validate(response.json())
    assert response.json()["entry"][0]["resource"]["id"] == f"signing-{own.pk}"
    assert AuditEntry.objects.filter(action=Action.EXPORT, resource_id=str(own.pk)).exists()
    assert doctor.get(f"/api/signing/signings/{other.pk}/fhir").status_code == 404
