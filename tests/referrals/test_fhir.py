"""The FHIR export of referrals validates as R4B and maps statuses as docs/fhir.md says."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.bundle import Bundle

from jiayi.referrals import fhir, services
from jiayi.referrals.choices import Destination
from jiayi.referrals.models import Department
from jiayi.registry.models import Resident, Staff

from .helpers import make_slots

pytestmark = pytest.mark.django_db


def test_it_exports_an_up_and_a_down_referral_as_valid_bundles(
    department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    slot = make_slots(department, 1)[0]
    draft = services.UpReferralDraft(hospital=department.hospital, department=department, reason="复查")
    up = services.do_create_up_referral(None, signed_resident, doctor_staff, draft)
    up = services.do_record_visit(None, services.do_accept(None, services.do_send(None, up, slot_id=slot.pk)))
    down = services.do_refer_down(
        None,
        up,
        services.DownReferralDraft(destination=Destination.COMMUNITY_BED, reason="出院", needs=("康复",)),
    )
    up.refresh_from_db()

    up_bundle = fhir.referral_bundle(up)
    Bundle.model_validate(up_bundle)
    request, appointment, slot_resource, schedule = (e["resource"] for e in up_bundle["entry"])
    assert (request["status"], appointment["status"], slot_resource["status"]) == (
        "completed",
        "fulfilled",
        "busy",
    )
    assert slot_resource["extension"][0]["valueCode"] == "reserved"
    assert slot_resource["schedule"]["reference"] == f"Schedule/{schedule['id']}"
    assert appointment["basedOn"] == [{"reference": f"ServiceRequest/referral-{up.pk}"}]

    down_bundle = fhir.referral_bundle(down)
    Bundle.model_validate(down_bundle)
    (down_request,) = (e["resource"] for e in down_bundle["entry"])
    assert down_request["basedOn"] == [{"reference": f"ServiceRequest/referral-{up.pk}"}]
    assert down_request["code"]["coding"][0]["code"] == "community_bed"
    assert down_request["note"] == [{"text": "康复"}]
