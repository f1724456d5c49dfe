"""FHIR R4 export of a referral: a `ServiceRequest`, and when a slot was booked its `Appointment`,
`Slot` and `Schedule` (the department's, or the specialist's, at the hospital); the files sent with it
as `DocumentReference`s named in `ServiceRequest.supportingInfo`.

The mapping is documented in docs/fhir.md ("Referrals and appointments"). Resources are plain dicts in
FHIR JSON shape; residents are referenced by jiayi's resident number only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jiayi.records import fhir_systems as systems
from jiayi.referrals.choices import AppointmentStatus, Direction, ReferralStatus, SlotStatus, Urgency
from jiayi.referrals.models import Appointment, Referral, ReferralFile, Slot
from jiayi.registry.models import Institution, Staff

REFERRAL_SYSTEM = f"{systems.FHIR_BASE}/sid/referral"
REQUEST_KIND_SYSTEM = f"{systems.FHIR_BASE}/CodeSystem/referral-request-kind"
DESTINATION_SYSTEM = f"{systems.FHIR_BASE}/CodeSystem/referral-destination"
REFERRAL_STATUS_EXTENSION = f"{systems.FHIR_BASE}/StructureDefinition/referral-status"
POOL_EXTENSION = f"{systems.FHIR_BASE}/StructureDefinition/slot-pool"
SERVICE_KIND_SYSTEM = f"{systems.FHIR_BASE}/CodeSystem/slot-service-kind"
SHA256_EXTENSION = f"{systems.FHIR_BASE}/StructureDefinition/attachment-sha256"
LOINC = "http://loinc.org"
REFERRAL_NOTE = "57133-1"  # LOINC "Referral note"
FILE_URL = "/api/referrals/files/{pk}"
SNOMED = "http://snomed.info/sct"
REFERRAL_CATEGORY = "3457005"  # SNOMED CT "Patient referral"

REQUEST_STATUS: dict[str, str] = {
    ReferralStatus.DRAFT: "draft",
    ReferralStatus.SENT: "active",
    ReferralStatus.ACCEPTED: "active",
    ReferralStatus.BOOKED: "active",
    ReferralStatus.SEEN: "completed",
    ReferralStatus.RETURNED: "completed",
    ReferralStatus.DECLINED: "revoked",
    ReferralStatus.CANCELLED: "revoked",
}
PRIORITY: dict[str, str] = {Urgency.ROUTINE: "routine", Urgency.URGENT: "urgent", Urgency.EMERGENCY: "stat"}
APPOINTMENT_STATUS: dict[str, str] = {
    AppointmentStatus.HELD: "pending",
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.FULFILLED: "fulfilled",
    AppointmentStatus.NO_SHOW: "noshow",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.EXPIRED: "cancelled",
}
SLOT_STATUS: dict[str, str] = {
    SlotStatus.FREE: "free",
    SlotStatus.HELD: "busy-tentative",
    SlotStatus.BOOKED: "busy",
}


def _organization(institution: Institution) -> dict[str, Any]:
    return {
        "identifier": {"system": systems.INSTITUTION_SYSTEM, "value": institution.code},
        "display": institution.name,
    }


def _practitioner(staff: Staff) -> dict[str, Any]:
    return {"identifier": {"system": systems.STAFF_SYSTEM, "value": staff.code}, "display": staff.name}


def _patient(resident_id: int) -> dict[str, Any]:
    return {"identifier": {"system": systems.RESIDENT_SYSTEM, "value": str(resident_id)}}


def document_reference(file: ReferralFile, referral: Referral) -> dict[str, Any]:
    """A file sent with the referral. FHIR R4's `Attachment.hash` is SHA-1, so the SHA-256 jiayi keeps
    travels in an extension; the bytes are read at `url` with the reader's own authorisation."""
    return {
        "resourceType": "DocumentReference",
        "id": f"referral-file-{file.pk}",
        "status": "current",
        "type": {"coding": [{"system": LOINC, "code": REFERRAL_NOTE, "display": "Referral note"}]},
        "subject": _patient(referral.resident_id),
        "date": file.uploaded_at.isoformat(),
        "description": file.name,
        "context": {"related": [{"reference": f"ServiceRequest/referral-{referral.pk}"}]},
        "content": [
            {
                "attachment": {
                    "contentType": file.content_type,
                    "url": FILE_URL.format(pk=file.pk),
                    "size": file.size,
                    "title": file.name,
                    "creation": file.uploaded_at.isoformat(),
                    "extension": [{"url": SHA256_EXTENSION, "valueString": file.sha256}],
                }
            }
        ],
    }


def service_request(referral: Referral, files: Sequence[ReferralFile] = ()) -> dict[str, Any]:
    up = referral.direction == Direction.UP
    sender, receiver = (
        (_practitioner(referral.family_doctor), _organization(referral.hospital))
        if up
        else (_organization(referral.hospital), _organization(referral.centre))
    )
    code = (
        {"coding": [{"system": REQUEST_KIND_SYSTEM, "code": referral.request_kind}]}
        if up
        else {"coding": [{"system": DESTINATION_SYSTEM, "code": referral.destination}]}
    )
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": f"referral-{referral.pk}",
        "identifier": [{"system": REFERRAL_SYSTEM, "value": str(referral.pk)}],
        "status": REQUEST_STATUS[referral.status],
        "intent": "order",
        "category": [
            {"coding": [{"system": SNOMED, "code": REFERRAL_CATEGORY, "display": "Patient referral"}]}
        ],
        "priority": PRIORITY[referral.urgency],
        "code": code,
        "subject": _patient(referral.resident_id),
        "authoredOn": referral.created_at.isoformat(),
        "requester": sender,
        "performer": [receiver],
        "reasonCode": [{"text": referral.reason}],
        "extension": [{"url": REFERRAL_STATUS_EXTENSION, "valueCode": referral.status}],
    }
    if referral.parent_id is not None:
        resource["basedOn"] = [{"reference": f"ServiceRequest/referral-{referral.parent_id}"}]
    if referral.needs:
        resource["note"] = [{"text": need} for need in referral.needs]
    if referral.scheduled_on is not None:
        resource["occurrenceDateTime"] = referral.scheduled_on.isoformat()
    if files:
        resource["supportingInfo"] = [{"reference": f"DocumentReference/referral-file-{f.pk}"} for f in files]
    return resource


def schedule(slot: Slot) -> dict[str, Any]:
    actors: list[dict[str, Any]] = [_organization(slot.hospital)]
    if slot.specialist is not None:
        actors.append(_practitioner(slot.specialist))
    key = f"{slot.department_id}-{slot.specialist_id or 0}"
    return {
        "resourceType": "Schedule",
        "id": f"schedule-{key}",
        "active": True,
        "serviceType": [{"text": slot.department.name}],
        "actor": actors,
    }


def slot_resource(slot: Slot) -> dict[str, Any]:
    return {
        "resourceType": "Slot",
        "id": f"slot-{slot.pk}",
        "schedule": {"reference": f"Schedule/schedule-{slot.department_id}-{slot.specialist_id or 0}"},
        "status": SLOT_STATUS[slot.status],
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        "serviceType": [{"coding": [{"system": SERVICE_KIND_SYSTEM, "code": slot.service_kind}]}],
        "extension": [{"url": POOL_EXTENSION, "valueCode": slot.pool}],
    }


def appointment(appt: Appointment, referral: Referral | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": f"appointment-{appt.pk}",
        "status": APPOINTMENT_STATUS[appt.status],
        "slot": [{"reference": f"Slot/slot-{appt.slot_id}"}],
        "start": appt.slot.start.isoformat(),
        "end": appt.slot.end.isoformat(),
        "created": appt.created_at.isoformat(),
        "participant": [{"actor": _patient(appt.resident_id), "status": "accepted"}],
    }
    if referral is not None:
        resource["basedOn"] = [{"reference": f"ServiceRequest/referral-{referral.pk}"}]
    return resource


def referral_bundle(referral: Referral, files: Sequence[ReferralFile] = ()) -> dict[str, Any]:
    """A collection Bundle: the ServiceRequest, then the Appointment, Slot and Schedule when booked,
    then a DocumentReference per file the reader may read (`files`)."""
    resources = [service_request(referral, files)]
    if referral.appointment is not None:
        slot = referral.appointment.slot
        resources += [appointment(referral.appointment, referral), slot_resource(slot), schedule(slot)]
    resources += [document_reference(f, referral) for f in files]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:jiayi:{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }
