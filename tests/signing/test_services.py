"""The signing services: consent, 1+1+1 validation, one open signing per resident, status changes,
renewal, household signing and panel transfer, each with its events and audit entries."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from jiayi.audit.models import Action, AuditEntry
from jiayi.registry.choices import Relationship
from jiayi.registry.models import Institution, Place, Resident, Staff
from jiayi.signing import services
from jiayi.signing.choices import ChangeReason, ConsentKind, PackageKind, SigningChannel, SigningStatus
from jiayi.signing.models import ReminderMessage, ServicePackage, Signing, SigningEvent
from jiayi.signing.services import (
    ConsentRequired,
    SigningConflict,
    SigningStateError,
    SigningTerms,
    SigningValidationError,
)

from .helpers import TODAY, consent_for, make_package, sign

pytestmark = pytest.mark.django_db


def fields_of(exc: SigningValidationError) -> set[str]:
    return {name for name, _ in exc.errors}


def events_of(signing: Signing) -> list[tuple[str, str, str]]:
    return [(e.from_status, e.to_status, e.reason) for e in signing.events.order_by("at", "id")]


# Creating ----------------------------------------------------------------------------------------------


def test_it_creates_a_pending_signing_with_its_event_and_audit_entry(
    personas: Any, resident_in_scope: Resident, doctor_staff: Staff, package: ServicePackage
) -> None:
    consent = consent_for(resident_in_scope, personas.doctor)

    signing = services.do_create_signing(
        personas.doctor,
        resident_in_scope,
        SigningTerms(family_doctor=doctor_staff, package=package),
        today=TODAY,
    )

    assert signing.status == SigningStatus.PENDING
    assert (signing.starts_on, signing.ends_on) == (TODAY, date(2027, 2, 28))
    assert signing.centre == doctor_staff.institution.centre
    assert signing.team.lead == doctor_staff
    assert signing.consent == consent
    assert signing.channel == SigningChannel.COUNTER
    assert events_of(signing) == [("", SigningStatus.PENDING, ChangeReason.NEW)]
    assert signing.events.get().actor == personas.doctor
    entry = AuditEntry.objects.filter(resource_type="signing", resource_id=str(signing.pk)).get()
    assert (entry.action, entry.resident_id, entry.actor) == (
        Action.CREATE,
        resident_in_scope.pk,
        personas.doctor,
    )


def test_it_requires_the_residents_consent(
    resident_in_scope: Resident, doctor_staff: Staff, package: ServicePackage
) -> None:
    with pytest.raises(ConsentRequired) as caught:
        services.do_create_signing(
            None, resident_in_scope, SigningTerms(family_doctor=doctor_staff, package=package), today=TODAY
        )

    assert caught.value.errors == [("consent", "the resident's consent to the signing agreement is required")]
    assert not Signing.objects.filter(resident=resident_in_scope).exists()


def test_it_refuses_a_withdrawn_or_foreign_or_other_consent(
    residents_in_scope: list[Resident], doctor_staff: Staff, package: ServicePackage
) -> None:
    first, second = residents_in_scope[:2]
    terms = SigningTerms(family_doctor=doctor_staff, package=package)
    withdrawn = services.do_withdraw_consent(None, consent_for(first))
    foreign = consent_for(second)
    other_kind = services.do_record_consent(
        None, first, kind=ConsentKind.SENSITIVE_PERSONAL_INFORMATION, text_version="1"
    )

    for consent, message in [
        (withdrawn, "withdrawn"),
        (foreign, "another resident"),
        (other_kind, "not for the signing"),
    ]:
        with pytest.raises(SigningValidationError, match=message):
            services.do_create_signing(None, first, terms, consent=consent, today=TODAY)
    # Without a consent in force on file, the withdrawn one does not count either.
    with pytest.raises(ConsentRequired):
        services.do_create_signing(None, first, terms, today=TODAY)


def test_it_validates_consent_input(resident_in_scope: Resident) -> None:
    with pytest.raises(SigningValidationError) as caught:
        services.do_record_consent(
            None, resident_in_scope, kind="bogus", text_version=" ", proxy=resident_in_scope
        )

    assert fields_of(caught.value) == {"kind", "text_version", "proxy"}


def test_it_signs_1_plus_1_plus_1_with_a_specialist(
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
        district_hospital=district_hospital,
        municipal_hospital=municipal_hospital,
        specialist=specialist,
    )

    assert signing.institution_count == 3
    assert signing.specialist == specialist


def test_it_refuses_hospitals_in_the_wrong_tier_and_a_non_gp(
    personas: Any,
    resident_in_scope: Resident,
    package: ServicePackage,
    district_hospital: Institution,
    municipal_hospital: Institution,
    doctor_staff: Staff,
) -> None:
    consent_for(resident_in_scope)
    nurse: Staff = personas.nurse.account.staff
    terms = SigningTerms(
        family_doctor=nurse,
        package=package,
        district_hospital=municipal_hospital,
        municipal_hospital=district_hospital,
        specialist=doctor_staff,
    )

    with pytest.raises(SigningValidationError) as caught:
        services.do_create_signing(None, resident_in_scope, terms, today=TODAY)

    assert fields_of(caught.value) == {
        "family_doctor",
        "district_hospital",
        "municipal_hospital",
        "specialist",
    }


def test_it_refuses_a_team_the_doctor_is_not_on(
    personas: Any, resident_in_scope: Resident, doctor_staff: Staff, package: ServicePackage
) -> None:
    consent_for(resident_in_scope)
    other_team = personas.other_doctor.account.staff.led_teams.get()

    with pytest.raises(SigningValidationError) as caught:
        services.do_create_signing(
            None,
            resident_in_scope,
            SigningTerms(family_doctor=doctor_staff, package=package, team=other_team),
            today=TODAY,
        )

    assert fields_of(caught.value) == {"team"}


@pytest.mark.parametrize(
    ("year", "kind", "channel", "active", "message"),
    [
        (TODAY.year + 1, PackageKind.BASIC, SigningChannel.COUNTER, True, "offered for"),
        (TODAY.year, PackageKind.BASIC, SigningChannel.COUNTER, False, "no longer offered"),
        (TODAY.year, PackageKind.HOUSEHOLD, SigningChannel.COUNTER, True, "household together"),
        (TODAY.year, PackageKind.FUNCTIONAL_COMMUNITY, SigningChannel.COUNTER, True, "functional community"),
    ],
)
def test_it_checks_the_package(
    resident_in_scope: Resident,
    doctor_staff: Staff,
    district: Place,
    year: int,
    kind: str,
    channel: str,
    active: bool,
    message: str,
) -> None:
    package = make_package(district, year, code="P1", kind=kind)
    package.active = active
    package.save()
    consent_for(resident_in_scope)

    with pytest.raises(SigningValidationError, match=message):
        services.do_create_signing(
            None,
            resident_in_scope,
            SigningTerms(family_doctor=doctor_staff, package=package, channel=channel),
            today=TODAY,
        )


def test_it_signs_a_functional_community_package_in_the_community(
    resident_in_scope: Resident, doctor_staff: Staff, district: Place
) -> None:
    package = make_package(district, TODAY.year, code="FC", kind=PackageKind.FUNCTIONAL_COMMUNITY)

    signing = sign(resident_in_scope, doctor_staff, package, channel=SigningChannel.FUNCTIONAL_COMMUNITY)

    assert signing.package.kind == PackageKind.FUNCTIONAL_COMMUNITY


def test_it_refuses_a_package_of_another_district(
    resident_in_scope: Resident, doctor_staff: Staff, district: Place
) -> None:
    elsewhere = Place.objects.create(code="310199", name="别区", level=district.level, kind=district.kind)
    consent_for(resident_in_scope)

    with pytest.raises(SigningValidationError, match="not offered in the resident's district"):
        services.do_create_signing(
            None,
            resident_in_scope,
            SigningTerms(family_doctor=doctor_staff, package=make_package(elsewhere, TODAY.year)),
            today=TODAY,
        )


def test_it_refuses_a_resident_who_has_died(
    resident_in_scope: Resident, doctor_staff: Staff, package: ServicePackage
) -> None:
    consent_for(resident_in_scope)
    resident_in_scope.date_of_death = date(2026, 1, 5)
    resident_in_scope.save()

    with pytest.raises(SigningValidationError, match="died"):
        services.do_create_signing(
            None, resident_in_scope, SigningTerms(family_doctor=doctor_staff, package=package), today=TODAY
        )


# One open signing per resident -------------------------------------------------------------------------


@pytest.mark.parametrize("confirm", [False, True])
def test_it_refuses_a_second_open_signing_naming_the_first(
    resident_in_scope: Resident, doctor_staff: Staff, second_gp: Staff, package: ServicePackage, confirm: bool
) -> None:
    first = sign(resident_in_scope, doctor_staff, package, confirm=confirm)

    with pytest.raises(SigningConflict) as caught:
        sign(resident_in_scope, second_gp, package)

    assert caught.value.existing == first
    assert f"#{first.pk}" in str(caught.value)
    assert Signing.objects.filter(resident=resident_in_scope).count() == 1


def test_it_turns_the_constraint_into_a_conflict_when_the_check_was_raced(
    resident_in_scope: Resident,
    doctor_staff: Staff,
    second_gp: Staff,
    package: ServicePackage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = sign(resident_in_scope, doctor_staff, package)
    real = services.open_signing_of
    calls: list[int] = []

    def stale_check(resident: Resident) -> Signing | None:
        # The first look (the check) misses the competing signing, as under concurrency; the second
        # (after the constraint fired) sees it.
        calls.append(resident.pk)
        return None if len(calls) == 1 else real(resident)

    monkeypatch.setattr(services, "open_signing_of", stale_check)

    with pytest.raises(SigningConflict) as caught:
        sign(resident_in_scope, second_gp, package)

    assert caught.value.existing == first
    assert len(calls) == 2


def test_it_has_the_database_refuse_two_open_signings(
    resident_in_scope: Resident, doctor_staff: Staff, package: ServicePackage
) -> None:
    first = sign(resident_in_scope, doctor_staff, package)
    first.pk = None

    with pytest.raises(IntegrityError), transaction.atomic():
        first.save()


def test_it_allows_a_new_signing_once_the_old_one_ended(
    resident_in_scope: Resident, doctor_staff: Staff, second_gp: Staff, package: ServicePackage
) -> None:
    old = sign(resident_in_scope, doctor_staff, package, confirm=True)
    services.do_terminate_signing(None, old, "resident_request")

    new = sign(resident_in_scope, second_gp, package)

    assert new.status == SigningStatus.PENDING


# Status changes ----------------------------------------------------------------------------------------


def test_it_confirms_declines_and_terminates_with_who_and_why(
    personas: Any, residents_in_scope: list[Resident], doctor_staff: Staff, package: ServicePackage
) -> None:
    a, b = residents_in_scope[:2]
    confirmed = sign(a, doctor_staff, package, actor=personas.doctor, confirm=True)
    declined = services.do_decline_signing(personas.doctor, sign(b, doctor_staff, package), "不在服务区域")
    terminated = services.do_terminate_signing(personas.manager, confirmed, "moved_away")

    assert declined.status == SigningStatus.DECLINED
    assert events_of(declined)[-1] == (SigningStatus.PENDING, SigningStatus.DECLINED, ChangeReason.DECLINED)
    assert declined.events.latest("id").note == "不在服务区域"
    assert events_of(terminated) == [
        ("", SigningStatus.PENDING, ChangeReason.NEW),
        (SigningStatus.PENDING, SigningStatus.ACTIVE, ChangeReason.CONFIRMED),
        (SigningStatus.ACTIVE, SigningStatus.TERMINATED, ChangeReason.MOVED_AWAY),
    ]
    assert terminated.events.latest("id").actor == personas.manager
    updates = AuditEntry.objects.filter(
        resource_type="signing", resource_id=str(confirmed.pk), action=Action.UPDATE
    )
    assert [e.detail["status"] for e in updates.order_by("id")] == [
        SigningStatus.ACTIVE,
        SigningStatus.TERMINATED,
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: services.do_confirm_signing(None, s), "a signing that is terminated cannot become active"),
        (
            lambda s: services.do_decline_signing(None, s, "x"),
            "a signing that is terminated cannot become declined",
        ),
        (lambda s: services.do_terminate_signing(None, s, "death"), "cannot become terminated"),
    ],
)
def test_it_refuses_changes_the_table_forbids(
    resident_in_scope: Resident, doctor_staff: Staff, package: ServicePackage, change: Any, message: str
) -> None:
    signing = services.do_terminate_signing(
        None, sign(resident_in_scope, doctor_staff, package, confirm=True), "death"
    )

    with pytest.raises(SigningStateError, match=message):
        change(signing)

    assert signing.events.count() == 3


def test_it_cannot_terminate_a_pending_signing(
    resident_in_scope: Resident, doctor_staff: Staff, package: ServicePackage
) -> None:
    with pytest.raises(SigningStateError, match="a signing that is pending cannot become terminated"):
        services.do_terminate_signing(None, sign(resident_in_scope, doctor_staff, package), "death")


@pytest.mark.parametrize(
    ("reason", "note", "field"),
    [
        ("bogus", "", "reason"),
        ("other", "", "note"),
        ("other", "  ", "note"),
        ("death", "x" * 201, "note"),
        ("other", "迁往\x00外省", "note"),
    ],
)
def test_it_requires_a_known_termination_reason_and_a_note_for_other(
    resident_in_scope: Resident,
    doctor_staff: Staff,
    package: ServicePackage,
    reason: str,
    note: str,
    field: str,
) -> None:
    signing = sign(resident_in_scope, doctor_staff, package, confirm=True)

    with pytest.raises(SigningValidationError) as caught:
        services.do_terminate_signing(None, signing, reason, note=note)

    assert fields_of(caught.value) == {field}


def test_it_requires_a_reason_to_decline(
    resident_in_scope: Resident, doctor_staff: Staff, package: ServicePackage
) -> None:
    with pytest.raises(SigningValidationError):
        services.do_decline_signing(None, sign(resident_in_scope, doctor_staff, package), " ")


# Renewal -----------------------------------------------------------------------------------------------


@pytest.fixture
def active(resident_in_scope: Resident, doctor_staff: Staff, package: ServicePackage) -> Signing:
    return sign(resident_in_scope, doctor_staff, package, confirm=True)


def test_it_renews_in_one_step_without_gap_or_overlap(
    personas: Any, active: Signing, district: Place
) -> None:
    next_year = make_package(district, TODAY.year + 1)

    new = services.do_renew_signing(personas.doctor, active, today=date(2027, 2, 1))

    active.refresh_from_db()
    assert active.status == SigningStatus.EXPIRED
    assert (new.status, new.previous, new.family_doctor) == (
        SigningStatus.ACTIVE,
        active,
        active.family_doctor,
    )
    assert (new.starts_on, new.ends_on) == (date(2027, 3, 1), date(2028, 2, 29))
    assert new.package == next_year
    assert new.consent == active.consent
    assert events_of(active)[-1] == (SigningStatus.ACTIVE, SigningStatus.EXPIRED, ChangeReason.RENEWED)
    assert events_of(new) == [("", SigningStatus.ACTIVE, ChangeReason.RENEWED)]


def test_it_refuses_to_renew_too_early_or_twice(active: Signing, district: Place) -> None:
    make_package(district, TODAY.year + 1)
    with pytest.raises(SigningStateError, match="renewal opens on 2027-01-29"):
        services.do_renew_signing(None, active, today=date(2027, 1, 28))

    services.do_renew_signing(None, active, today=date(2027, 2, 1))
    with pytest.raises(SigningStateError, match="already been renewed"):
        services.do_renew_signing(None, active, today=date(2027, 2, 2))


def test_it_switches_doctor_at_renewal_only_with_a_reason(
    active: Signing, second_gp: Staff, district: Place
) -> None:
    make_package(district, TODAY.year + 1)
    with pytest.raises(SigningValidationError) as caught:
        services.do_renew_signing(None, active, family_doctor=second_gp, today=date(2027, 2, 20))
    assert fields_of(caught.value) == {"switch_reason"}

    new = services.do_renew_signing(
        None, active, family_doctor=second_gp, switch_reason="离家更近", today=date(2027, 2, 20)
    )

    assert new.family_doctor == second_gp
    assert new.team.lead == second_gp
    assert events_of(new) == [("", SigningStatus.ACTIVE, ChangeReason.DOCTOR_SWITCH)]
    assert new.events.get().note == "离家更近"


def test_it_switches_doctor_within_the_period_keeping_package_and_end(
    personas: Any, active: Signing, second_gp: Staff
) -> None:
    with pytest.raises(SigningValidationError) as caught:
        services.do_switch_doctor(personas.doctor, active, second_gp, "  ", today=date(2026, 7, 1))
    assert fields_of(caught.value) == {"reason"}
    with pytest.raises(SigningValidationError) as caught:
        services.do_switch_doctor(personas.doctor, active, active.family_doctor, "x", today=date(2026, 7, 1))
    assert fields_of(caught.value) == {"family_doctor"}

    new = services.do_switch_doctor(
        personas.doctor, active, second_gp, "搬家后离该医生更近", today=date(2026, 7, 1)
    )

    active.refresh_from_db()
    assert active.status == SigningStatus.TRANSFERRED
    assert (new.family_doctor, new.team.lead, new.previous) == (second_gp, second_gp, active)
    # Same contract: the period, package and consent carry over; only the doctor changes.
    assert (new.starts_on, new.ends_on, new.package, new.consent) == (
        date(2026, 7, 1),
        active.ends_on,
        active.package,
        active.consent,
    )
    assert events_of(new) == [("", SigningStatus.ACTIVE, ChangeReason.MID_PERIOD_SWITCH)]
    assert "搬家后离该医生更近" in active.events.latest("id").note
    # Switching again from the old signing is refused: it is no longer active.
    with pytest.raises(SigningStateError):
        services.do_switch_doctor(personas.doctor, active, second_gp, "again", today=date(2026, 7, 2))


def test_it_tells_the_resident_why_a_signing_was_declined(
    resident_in_scope: Resident, doctor_staff: Staff, package: ServicePackage
) -> None:
    pending = sign(resident_in_scope, doctor_staff, package)
    declined = services.do_decline_signing(None, pending, "不在服务区域")

    message = ReminderMessage.objects.get(signing=declined)
    assert (message.kind, message.resident_id) == ("declined", resident_in_scope.pk)
    assert "未通过" in message.body
    assert "不在服务区域" in message.body


def test_it_renews_a_lapsed_signing_from_today(active: Signing, district: Place) -> None:
    make_package(district, TODAY.year + 1)
    Signing.objects.filter(pk=active.pk).update(status=SigningStatus.EXPIRED)

    new = services.do_renew_signing(None, active, today=date(2027, 4, 10))

    assert new.starts_on == date(2027, 4, 10)


def test_it_needs_a_consent_in_force_to_renew(active: Signing, district: Place) -> None:
    make_package(district, TODAY.year + 1)
    services.do_withdraw_consent(None, active.consent)

    with pytest.raises(ConsentRequired):
        services.do_renew_signing(None, active, today=date(2027, 2, 1))

    active.refresh_from_db()
    assert active.status == SigningStatus.ACTIVE


def test_it_cannot_renew_a_terminated_signing(active: Signing) -> None:
    services.do_terminate_signing(None, active, "death")

    with pytest.raises(SigningStateError, match="a signing that is terminated cannot be renewed"):
        services.do_renew_signing(None, active, today=date(2027, 2, 1))


# Household signing -------------------------------------------------------------------------------------


def test_it_signs_a_household_reporting_each_member(
    personas: Any, doctor_staff: Staff, second_gp: Staff, district: Place, residents_in_scope: list[Resident]
) -> None:
    head: Resident = personas.resident.account.resident
    household = head.household
    assert household is not None
    spouse = household.members.get(relationship=Relationship.SPOUSE)
    package = make_package(district, TODAY.year, code="FAMILY", kind=PackageKind.HOUSEHOLD)
    consent_for(head)
    # The spouse gave no consent; the stranger is not of this household; a member is signed already.
    stranger, signed_member = residents_in_scope[:2]
    consent_for(stranger)
    Resident.objects.filter(pk=signed_member.pk).update(household=household, relationship=Relationship.CHILD)
    signed_member.refresh_from_db()
    already = sign(signed_member, second_gp, make_package(district, TODAY.year, code="B2"))
    members = [head, spouse, stranger, signed_member]

    outcomes = services.do_sign_household(
        personas.doctor,
        household,
        members,
        SigningTerms(family_doctor=doctor_staff, package=package),
        today=TODAY,
    )

    by_member = {o.resident_id: o for o in outcomes}
    head_signing = by_member[head.pk].signing
    assert head_signing is not None
    assert head_signing.household == household
    assert not by_member[spouse.pk].ok
    assert [name for name, _ in by_member[spouse.pk].errors] == ["consent"]
    assert not by_member[stranger.pk].ok
    assert by_member[stranger.pk].errors == [("resident", "the resident is not a member of this household")]
    assert by_member[signed_member.pk].existing_signing_id == already.pk
    assert [o.resident_id for o in outcomes] == [m.pk for m in members]
    # The failures undid nothing of the success.
    assert Signing.objects.filter(resident=head, household=household, status=SigningStatus.PENDING).exists()
    assert not Signing.objects.filter(resident__in=[spouse, stranger]).exists()
    assert Signing.objects.filter(resident=signed_member).get() == already
    summary = AuditEntry.objects.get(resource_type="household_signing", resource_id=str(household.pk))
    assert summary.detail["signed"] == [head.pk]


# Panel transfer ----------------------------------------------------------------------------------------


@pytest.fixture
def panel(residents_in_scope: list[Resident], doctor_staff: Staff, package: ServicePackage) -> list[Signing]:
    signings = [sign(r, doctor_staff, package, confirm=True) for r in residents_in_scope[:3]]
    # A pending signing stays with the departing doctor's centre to decide: only active ones move.
    sign(residents_in_scope[3], doctor_staff, package)
    return signings


def test_it_previews_a_panel_transfer_without_writing(
    personas: Any, panel: list[Signing], doctor_staff: Staff, second_gp: Staff, third_gp: Staff
) -> None:
    before = list(Signing.objects.order_by("id").values_list("id", "status", "family_doctor_id"))

    plan = services.do_transfer_panel(personas.manager, doctor_staff, [second_gp, third_gp], today=TODAY)

    assert not plan.applied
    assert [(a.signing_id, a.to_doctor_id) for a in plan.assignments] == [
        (panel[0].pk, second_gp.pk),
        (panel[1].pk, third_gp.pk),
        (panel[2].pk, second_gp.pk),
    ]
    assert all(a.new_signing_id is None for a in plan.assignments)
    assert plan.panel_sizes == {second_gp.pk: 2, third_gp.pk: 1}
    assert list(Signing.objects.order_by("id").values_list("id", "status", "family_doctor_id")) == before
    assert AuditEntry.objects.filter(resource_type="panel_transfer", action=Action.READ).count() == 1


def test_it_applies_a_panel_transfer_with_a_trail(
    personas: Any, panel: list[Signing], doctor_staff: Staff, second_gp: Staff, third_gp: Staff
) -> None:
    second_team = second_gp.led_teams.get()
    second_team.panel_capacity = 1
    second_team.save()

    plan = services.do_transfer_panel(
        personas.manager, doctor_staff, [second_gp, third_gp], preview=False, today=date(2026, 6, 1)
    )

    assert plan.applied
    assert plan.over_capacity == [second_gp.pk]
    assert not Signing.objects.filter(family_doctor=doctor_staff, status=SigningStatus.ACTIVE).exists()
    for old, assignment in zip(panel, plan.assignments, strict=True):
        old.refresh_from_db()
        assert assignment.new_signing_id is not None
        new = Signing.objects.get(pk=assignment.new_signing_id)
        assert old.status == SigningStatus.TRANSFERRED
        assert (new.status, new.previous, new.family_doctor_id) == (
            SigningStatus.ACTIVE,
            old,
            assignment.to_doctor_id,
        )
        assert (new.starts_on, new.ends_on) == (date(2026, 6, 1), old.ends_on)
        assert new.team.lead_id == assignment.to_doctor_id
        assert events_of(old)[-1] == (
            SigningStatus.ACTIVE,
            SigningStatus.TRANSFERRED,
            ChangeReason.PANEL_TRANSFER,
        )
        assert old.events.latest("id").actor == personas.manager
        assert (
            AuditEntry.objects.filter(
                resource_type="signing", resident_id=old.resident_id, action=Action.CREATE
            ).count()
            == 2
        )
    assert SigningEvent.objects.filter(reason=ChangeReason.PANEL_TRANSFER).count() == 6
    assert AuditEntry.objects.filter(resource_type="panel_transfer", action=Action.UPDATE).count() == 1


def test_it_refuses_transfers_outside_the_centre_or_to_nobody(
    personas: Any, panel: list[Signing], doctor_staff: Staff
) -> None:
    other: Staff = personas.other_doctor.account.staff
    nurse: Staff = personas.nurse.account.staff
    for to_doctors, field in [
        ([], "to_doctors"),
        ([other], f"to_doctors.{other.pk}"),
        ([nurse], f"to_doctors.{nurse.pk}"),
        ([doctor_staff], f"to_doctors.{doctor_staff.pk}"),
    ]:
        with pytest.raises(SigningValidationError) as caught:
            services.do_transfer_panel(None, doctor_staff, to_doctors, preview=False, today=TODAY)
        assert field in fields_of(caught.value)
    assert Signing.objects.filter(family_doctor=doctor_staff, status=SigningStatus.ACTIVE).count() == 3


# Expiry ------------------------------------------------------------------------------------------------


def test_it_expires_signings_past_their_last_day(
    residents_in_scope: list[Resident], doctor_staff: Staff, package: ServicePackage
) -> None:
    ended = sign(residents_in_scope[0], doctor_staff, package, confirm=True)
    running = sign(residents_in_scope[1], doctor_staff, package, confirm=True)
    pending = sign(residents_in_scope[2], doctor_staff, package)
    last_day = ended.ends_on
    Signing.objects.filter(pk=running.pk).update(ends_on=date(2027, 6, 30))

    assert services.do_expire_ended_signings(None, today=last_day) == 0
    assert services.do_expire_ended_signings(None, today=date(2027, 3, 1), batch=1) == 1
    assert services.do_expire_ended_signings(None, today=date(2027, 3, 1)) == 0

    statuses = dict(
        Signing.objects.filter(pk__in=[ended.pk, running.pk, pending.pk]).values_list("pk", "status")
    )
    assert statuses == {
        ended.pk: SigningStatus.EXPIRED,
        running.pk: SigningStatus.ACTIVE,
        pending.pk: SigningStatus.PENDING,
    }
    assert events_of(ended)[-1] == (SigningStatus.ACTIVE, SigningStatus.EXPIRED, ChangeReason.ENDED)
