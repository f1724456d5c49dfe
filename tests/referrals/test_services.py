"""Booking rules, holds, the release task and the referral lifecycle, through the services."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from jiayi.referrals import services
from jiayi.referrals.choices import (
    AppointmentStatus,
    Destination,
    Direction,
    Pool,
    ReferralStatus,
    SlotStatus,
    Urgency,
)
from jiayi.referrals.models import Department, HospitalPolicy, Referral, ScheduleTemplate, Slot, SlotRelease
from jiayi.registry.models import Resident, Staff

from .helpers import make_slots, unsigned_residents

pytestmark = pytest.mark.django_db


def test_it_books_a_reserved_slot_for_a_signed_resident(
    department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    slot = make_slots(department, 1)[0]
    appointment = services.do_book(None, slot.pk, signed_resident, family_doctor=doctor_staff)
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.pool == Pool.RESERVED
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.BOOKED


def test_it_refuses_a_reserved_slot_for_a_resident_outside_the_panel(
    department: Department, doctor_staff: Staff, signed_resident: Resident
) -> None:
    stranger = unsigned_residents()[0]
    slot = make_slots(department, 1)[0]
    with pytest.raises(services.ReferralValidationError) as caught:
        services.do_book(None, slot.pk, stranger, family_doctor=doctor_staff)
    assert caught.value.errors == [("resident", "the resident is not signed with this family doctor")]
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.FREE


def test_it_refuses_a_reserved_slot_without_a_family_doctor(
    department: Department, signed_resident: Resident
) -> None:
    slot = make_slots(department, 1)[0]
    with pytest.raises(services.ReferralValidationError) as caught:
        services.do_book(None, slot.pk, signed_resident)
    assert caught.value.errors == [("slot", "a reserved slot is booked by a family doctor")]


def test_it_books_a_public_slot_for_anyone(department: Department) -> None:
    slot = make_slots(department, 1, pool=Pool.PUBLIC)[0]
    resident = unsigned_residents()[0]
    assert services.do_book(None, slot.pk, resident).status == AppointmentStatus.BOOKED


def test_it_refuses_a_second_booking_of_a_slot(
    department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    slot = make_slots(department, 1, pool=Pool.PUBLIC)[0]
    services.do_book(None, slot.pk, signed_resident)
    with pytest.raises(services.SlotUnavailable, match="slot no longer available"):
        services.do_book(None, slot.pk, unsigned_residents()[0])


def test_it_refuses_a_slot_that_has_started(department: Department) -> None:
    past = timezone.now() - timedelta(hours=1)
    slot = make_slots(department, 1, pool=Pool.PUBLIC, first=past)[0]
    with pytest.raises(services.SlotUnavailable):
        services.do_book(None, slot.pk, unsigned_residents()[0])


def test_it_holds_then_confirms_and_lets_an_expired_hold_go(
    department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    slots = make_slots(department, 2)
    now = timezone.now()
    held = services.do_hold(None, slots[0].pk, signed_resident, family_doctor=doctor_staff, now=now)
    assert held.status == AppointmentStatus.HELD
    assert held.hold_expires_at == now + timedelta(minutes=10)
    with pytest.raises(services.SlotUnavailable):
        services.do_hold(None, slots[0].pk, signed_resident, family_doctor=doctor_staff, now=now)
    assert services.do_confirm(None, held, now=now + timedelta(minutes=5)).status == AppointmentStatus.BOOKED

    stale = services.do_hold(None, slots[1].pk, signed_resident, family_doctor=doctor_staff, now=now)
    later = now + timedelta(minutes=11)
    with pytest.raises(services.SlotUnavailable):
        services.do_confirm(None, stale, now=later)
    again = services.do_hold(None, slots[1].pk, signed_resident, family_doctor=doctor_staff, now=later)
    assert again.status == AppointmentStatus.HELD


def test_it_frees_the_slot_on_cancel_and_keeps_it_on_no_show(
    department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    slots = make_slots(department, 2)
    first = services.do_book(None, slots[0].pk, signed_resident, family_doctor=doctor_staff)
    services.do_cancel(None, first)
    assert Slot.objects.get(pk=slots[0].pk).status == SlotStatus.FREE
    second = services.do_book(None, slots[1].pk, signed_resident, family_doctor=doctor_staff)
    services.do_mark_no_show(None, second)
    assert Slot.objects.get(pk=slots[1].pk).status == SlotStatus.BOOKED
    with pytest.raises(services.ReferralStateError):
        services.do_cancel(None, second)


def test_it_releases_exactly_the_reserved_slots_inside_the_lead_time_once(
    department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    now = timezone.now().replace(microsecond=0)
    soon = make_slots(department, 4, first=now + timedelta(hours=2))
    booked = soon[0]
    services.do_book(None, booked.pk, signed_resident, family_doctor=doctor_staff, now=now)
    later = make_slots(department, 2, first=now + timedelta(hours=60))
    public_soon = make_slots(department, 1, pool=Pool.PUBLIC, first=now + timedelta(hours=3))[0]
    started = make_slots(department, 1, first=now - timedelta(minutes=5))[0]

    first = services.do_release_reserved_slots(now, lead_hours=48)
    second = services.do_release_reserved_slots(now, lead_hours=48)

    assert first.slot_ids == sorted(s.pk for s in soon[1:])
    assert second.released == 0
    released = Slot.objects.filter(released_at__isnull=False)
    assert sorted(released.values_list("pk", flat=True)) == first.slot_ids
    assert set(released.values_list("pool", flat=True)) == {Pool.PUBLIC}
    untouched = [booked.pk, public_soon.pk, started.pk, *(s.pk for s in later)]
    assert not Slot.objects.filter(pk__in=untouched, released_at__isnull=False).exists()
    assert Slot.objects.get(pk=booked.pk).pool == Pool.RESERVED
    assert list(SlotRelease.objects.order_by("id").values_list("released", flat=True)) == [3, 0]


def test_it_uses_the_hospitals_lead_time(department: Department) -> None:
    now = timezone.now().replace(microsecond=0)
    slot = make_slots(department, 1, first=now + timedelta(hours=30))[0]
    HospitalPolicy.objects.create(hospital_id=department.hospital_id, release_lead_hours=24)
    assert services.do_release_reserved_slots(now).released == 0
    HospitalPolicy.objects.filter(hospital_id=department.hospital_id).update(release_lead_hours=36)
    assert services.do_release_reserved_slots(now).slot_ids == [slot.pk]


def test_it_takes_the_reserved_share_from_department_hospital_then_district(
    department: Department, settings: Any
) -> None:
    settings.JIAYI_RESERVED_SLOT_SHARE = "0.2"
    assert services.reserved_share_of(department) == Decimal("0.2")
    HospitalPolicy.objects.create(hospital_id=department.hospital_id, reserved_share=Decimal("0.15"))
    assert services.reserved_share_of(department) == Decimal("0.15")
    department.reserved_share = Decimal("0.3")
    assert services.reserved_share_of(department) == Decimal("0.3")


def test_it_drafts_one_urgent_referral_per_emergency_follow_up(
    signed_resident: Resident, doctor_staff: Staff
) -> None:
    draft = services.draft_from_emergency(
        resident=signed_resident, family_doctor=doctor_staff, reasons=["BP 185/115", " "], follow_up_id=77
    )
    again = services.draft_from_emergency(
        resident=signed_resident, family_doctor=doctor_staff, reasons=["other"], follow_up_id=77
    )
    assert again.pk == draft.pk
    assert (draft.direction, draft.status, draft.urgency) == (
        Direction.UP,
        ReferralStatus.DRAFT,
        Urgency.URGENT,
    )
    assert draft.reason == "BP 185/115"
    assert draft.hospital.kind in ("regional_medical_centre", "district_hospital", "municipal_hospital")
    assert draft.centre == doctor_staff.institution.centre
    assert list(draft.events.values_list("to_status", flat=True)) == [ReferralStatus.DRAFT]


def _up_referral(resident: Resident, doctor: Staff, department: Department) -> Referral:
    draft = services.UpReferralDraft(hospital=department.hospital, department=department, reason="胸痛待查")
    return services.do_create_up_referral(None, resident, doctor, draft)


def test_it_walks_an_up_referral_through_to_its_return(
    department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    slot = make_slots(department, 1)[0]
    referral = _up_referral(signed_resident, doctor_staff, department)
    assert set(referral.summary) >= {"conditions", "medications", "observations"}
    referral = services.do_send(None, referral, slot_id=slot.pk)
    referral = services.do_accept(None, referral)
    assert referral.status == ReferralStatus.BOOKED
    referral = services.do_record_visit(None, referral)
    encounter = referral.encounter
    assert encounter is not None
    assert (encounter.resident_id, encounter.institution_id) == (signed_resident.pk, department.hospital_id)
    down = services.do_refer_down(
        None,
        referral,
        services.DownReferralDraft(destination=Destination.FAMILY_BED, reason="术后康复", needs=("换药",)),
    )
    down = services.do_accept_down(None, down, timezone.localdate() + timedelta(days=1))
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.RETURNED
    assert [e.to_status for e in referral.events.all()] == [
        ReferralStatus.DRAFT,
        ReferralStatus.SENT,
        ReferralStatus.ACCEPTED,
        ReferralStatus.BOOKED,
        ReferralStatus.SEEN,
        ReferralStatus.RETURNED,
    ]
    assert (down.direction, down.status, down.needs) == (Direction.DOWN, ReferralStatus.ACCEPTED, ["换药"])


def test_it_refuses_changes_out_of_order(
    department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    referral = _up_referral(signed_resident, doctor_staff, department)
    with pytest.raises(services.ReferralStateError):
        services.do_accept(None, referral)
    with pytest.raises(services.ReferralStateError):
        services.do_record_visit(None, referral)


def test_it_names_each_bad_field_of_a_referral(
    department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    draft = services.UpReferralDraft(
        hospital=doctor_staff.institution, department=department, reason=" ", urgency="soon"
    )
    with pytest.raises(services.ReferralValidationError) as caught:
        services.do_create_up_referral(None, signed_resident, doctor_staff, draft)
    assert [name for name, _ in caught.value.errors] == ["hospital", "department", "reason", "urgency"]
    assert not Referral.objects.filter(resident=signed_resident).exists()


def test_it_sends_a_no_show_back_to_accepted(
    department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    slots = make_slots(department, 2)
    referral = services.do_send(
        None, _up_referral(signed_resident, doctor_staff, department), slot_id=slots[0].pk
    )
    referral = services.do_accept(None, referral)
    referral = services.do_mark_referral_no_show(None, referral)
    assert referral.status == ReferralStatus.ACCEPTED
    referral = services.do_schedule(None, referral, slots[1].pk)
    assert referral.status == ReferralStatus.BOOKED


def test_it_generates_slots_from_a_weekly_template_once(department: Department, settings: Any) -> None:
    settings.JIAYI_RESERVED_SLOT_SHARE = "0.2"
    template = ScheduleTemplate.objects.create(
        department=department,
        service_kind="consultation",
        weekday=0,
        start_time=time(8),
        end_time=time(11, 30),
    )
    first, last = date(2030, 3, 4), date(2030, 3, 17)
    assert services.do_generate_slots(template, first, last) == 28
    assert services.do_generate_slots(template, first, last) == 0
    assert Slot.objects.filter(template=template, pool=Pool.RESERVED).count() == 6


def test_it_releases_slots_from_the_command(department: Department) -> None:
    make_slots(department, 2, first=timezone.now() + timedelta(hours=5))
    out = StringIO()
    call_command("referrals", "release-slots", stdout=out)
    assert out.getvalue().startswith("2 reserved slots released")
    out = StringIO()
    call_command("referrals", "release-slots", stdout=out)
    assert out.getvalue().startswith("0 reserved slots released")
    with pytest.raises(CommandError, match="lead-hours"):
        call_command("referrals", "release-slots", "--lead-hours", "-1")
