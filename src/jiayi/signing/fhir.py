"""FHIR R4B export of a signing: an `EpisodeOfCare` with the `CareTeam` that carries it out.

The mapping is documented in docs/fhir.md ("Signing"). Resources are plain dicts in FHIR JSON shape;
tests validate them with `fhir.resources.R4B`. Residents are referenced by jiayi's own resident number
only: a citizen ID never leaves in an export that does not need it.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from jiayi.records import fhir_systems as systems
from jiayi.registry.models import Institution, Staff
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import Signing

SIGNING_SYSTEM = f"{systems.FHIR_BASE}/sid/signing"
EPISODE_TYPE_SYSTEM = f"{systems.FHIR_BASE}/CodeSystem/episode-type"
CARE_TEAM_ROLE_SYSTEM = f"{systems.FHIR_BASE}/CodeSystem/care-team-role"
SIGNING_STATUS_SYSTEM = f"{systems.FHIR_BASE}/CodeSystem/signing-status"
CARE_TEAM_CATEGORY_SYSTEM = "http://loinc.org"
LONGITUDINAL_CARE_TEAM = "LA28865-6"  # LOINC answer "Longitudinal care-coordination focused care team"

# EpisodeOfCare.status has no "transferred" or "declined": the original status travels as an extension.
EPISODE_STATUS: dict[str, str] = {
    SigningStatus.PENDING: "planned",
    SigningStatus.ACTIVE: "active",
    SigningStatus.EXPIRED: "finished",
    SigningStatus.TERMINATED: "finished",
    SigningStatus.TRANSFERRED: "finished",
    SigningStatus.DECLINED: "cancelled",
}
CARE_TEAM_STATUS: dict[str, str] = {
    SigningStatus.PENDING: "proposed",
    SigningStatus.ACTIVE: "active",
    SigningStatus.EXPIRED: "inactive",
    SigningStatus.TERMINATED: "inactive",
    SigningStatus.TRANSFERRED: "inactive",
    SigningStatus.DECLINED: "inactive",
}
SIGNING_STATUS_EXTENSION = f"{systems.FHIR_BASE}/StructureDefinition/signing-status"


def _organization(institution: Institution) -> dict[str, Any]:
    return {
        "identifier": {"system": systems.INSTITUTION_SYSTEM, "value": institution.code},
        "display": institution.name,
    }


def _practitioner(staff: Staff) -> dict[str, Any]:
    return {
        "identifier": {"system": systems.STAFF_SYSTEM, "value": staff.code},
        "display": staff.name,
    }


def _patient(signing: Signing) -> dict[str, Any]:
    return {"identifier": {"system": systems.RESIDENT_SYSTEM, "value": str(signing.resident_id)}}


def _role(code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": CARE_TEAM_ROLE_SYSTEM, "code": code, "display": display}]}]


def care_team_id(signing: Signing) -> str:
    return f"signing-{signing.pk}-care-team"


def care_team(signing: Signing) -> dict[str, Any]:
    """The signing's care team: the family doctor, the rest of their team, and a double-signing
    specialist; the 1+1+1 institutions are its managing organisations."""
    period = {"start": signing.starts_on.isoformat(), "end": signing.ends_on.isoformat()}
    centre = _organization(signing.centre)
    participants: list[dict[str, Any]] = [
        {
            "role": _role("family_doctor", "家庭医生 Family doctor"),
            "member": _practitioner(signing.family_doctor),
            "onBehalfOf": centre,
            "period": period,
        }
    ]
    members = signing.team.members.exclude(pk=signing.family_doctor_id).order_by("id")
    for member in members:
        participants.append(
            {
                "role": _role(member.profession, member.get_profession_display()),
                "member": _practitioner(member),
                "onBehalfOf": centre,
            }
        )
    if signing.specialist is not None:
        participants.append(
            {
                "role": _role("specialist", "专科医生（双签约） Specialist (double signing)"),
                "member": _practitioner(signing.specialist),
                "onBehalfOf": _organization(signing.specialist.institution),
                "period": period,
            }
        )
    organisations = [centre]
    for hospital in (signing.district_hospital, signing.municipal_hospital):
        if hospital is not None:
            organisations.append(_organization(hospital))
    return {
        "resourceType": "CareTeam",
        "id": care_team_id(signing),
        "status": CARE_TEAM_STATUS[signing.status],
        "category": [{"coding": [{"system": CARE_TEAM_CATEGORY_SYSTEM, "code": LONGITUDINAL_CARE_TEAM}]}],
        "name": signing.team.name,
        "subject": _patient(signing),
        "period": period,
        "participant": participants,
        "managingOrganization": organisations,
    }


def episode_of_care(signing: Signing) -> dict[str, Any]:
    """The signing as an EpisodeOfCare: managed by the centre, cared for by the family doctor, over
    the signing's period, with its status changes as statusHistory."""
    history: list[dict[str, Any]] = []
    for event in signing.events.order_by("at", "id"):
        history.append(
            {
                "status": EPISODE_STATUS[event.to_status],
                "period": {"start": event.at.isoformat()},
            }
        )
    # Each entry's period ends where the next one starts, as FHIR reads the history.
    for before, after in pairwise(history):
        before["period"]["end"] = after["period"]["start"]
    return {
        "resourceType": "EpisodeOfCare",
        "id": f"signing-{signing.pk}",
        "identifier": [{"system": SIGNING_SYSTEM, "value": str(signing.pk)}],
        "extension": [
            {
                "url": SIGNING_STATUS_EXTENSION,
                "valueCoding": {
                    "system": SIGNING_STATUS_SYSTEM,
                    "code": signing.status,
                    "display": signing.get_status_display(),
                },
            }
        ],
        "status": EPISODE_STATUS[signing.status],
        "statusHistory": history,
        "type": [
            {
                "coding": [
                    {
                        "system": EPISODE_TYPE_SYSTEM,
                        "code": "family_doctor_signing",
                        "display": "家庭医生签约 Family-doctor signing",
                    }
                ],
                "text": signing.package.name,
            }
        ],
        "patient": _patient(signing),
        "managingOrganization": _organization(signing.centre),
        "period": {"start": signing.starts_on.isoformat(), "end": signing.ends_on.isoformat()},
        "careManager": _practitioner(signing.family_doctor),
        "team": [{"reference": f"CareTeam/{care_team_id(signing)}"}],
    }


def signing_bundle(signing: Signing) -> dict[str, Any]:
    """Both resources in a collection bundle, so the EpisodeOfCare's team reference resolves."""
    base = systems.FHIR_BASE
    episode = episode_of_care(signing)
    team = care_team(signing)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"{base}/EpisodeOfCare/{episode['id']}", "resource": episode},
            {"fullUrl": f"{base}/CareTeam/{team['id']}", "resource": team},
        ],
    }
