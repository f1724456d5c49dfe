"""Signing state changes: the one write path for signings, shared by the API, pages and imports.

`check_*` functions validate and raise `SigningValidationError` with every problem as (field, message);
`do_*` functions check, write atomically, log the status change as a `SigningEvent` and append the
audit entry in the same transaction, so a failed check or audit write leaves nothing behind. They trust
their caller on access: the API asks `jiayi.access` first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.registry.choices import PlaceLevel, Profession
from jiayi.registry.models import Household, Institution, Place, Resident, Staff, Team
from jiayi.signing import rules
from jiayi.signing.choices import (
    OPEN_STATUSES,
    ChangeReason,
    ConsentKind,
    PackageKind,
    SigningChannel,
    SigningStatus,
    TerminationReason,
)
from jiayi.signing.models import Consent, ReminderMessage, ServicePackage, Signing, SigningEvent

Actor = User | AnonymousUser | None
FieldError = tuple[str, str]
NOTE_MAX_LENGTH = 200
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
TEXT_VERSION_MAX_LENGTH = 32
# Signed outside a health institution, where a functional-community package fits.
FUNCTIONAL_CHANNELS = frozenset({SigningChannel.FUNCTIONAL_COMMUNITY, SigningChannel.CARE_HOME})


class SigningError(Exception):
    """A signing cannot be made or changed as asked."""


class SigningValidationError(SigningError):
    """Invalid signing data, with every problem found as (field, message)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors: list[FieldError] = list(errors)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors))


class ConsentRequired(SigningValidationError):
    """The resident has no signing consent in force (PIPL art. 29: separate, recorded consent)."""

    def __init__(self) -> None:
        super().__init__([("consent", "the resident's consent to the signing agreement is required")])


class SigningConflict(SigningError):
    """The resident already has a pending or active signing; names it so the clerk can open it."""

    def __init__(self, existing: Signing) -> None:
        self.existing = existing
        super().__init__(f"the resident already has an open signing (#{existing.pk}, {existing.status})")


class SigningStateError(SigningError):
    """The signing's status does not allow the change (a terminated signing cannot be confirmed)."""


def _actor_user(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) else None


# Lookups -----------------------------------------------------------------------------------------------


def open_signing_of(resident: Resident) -> Signing | None:
    """The resident's pending or active signing, if any."""
    return Signing.objects.filter(resident=resident, status__in=OPEN_STATUSES).first()


def team_of(doctor: Staff) -> Team | None:
    """The team a family doctor works in: the one they lead, else the first they belong to."""
    led = Team.objects.filter(lead=doctor).order_by("id").first()
    return led if led is not None else Team.objects.filter(members=doctor).order_by("id").first()


def district_of(resident: Resident) -> Place | None:
    """The district of the resident's committee (committee → sub-district → district)."""
    place = resident.committee
    while place is not None and place.level != PlaceLevel.DISTRICT:
        place = place.parent
    return place


def consent_in_force(resident: Resident, kind: str = ConsentKind.SIGNING) -> Consent | None:
    return (
        Consent.objects.filter(resident=resident, kind=kind, withdrawn_at__isnull=True)
        .order_by("-accepted_at", "-id")
        .first()
    )


# Consent -----------------------------------------------------------------------------------------------


def do_record_consent(
    actor: Actor,
    resident: Resident,
    *,
    kind: str = ConsentKind.SIGNING,
    text_version: str,
    proxy: Resident | None = None,
    request: HttpRequest | None = None,
) -> Consent:
    """Record that the resident (or `proxy` for them) accepted a version of a consent text."""
    text_version = text_version.strip()
    errors: list[FieldError] = []
    if kind not in ConsentKind.values:
        errors.append(("kind", f"consent kind must be one of: {', '.join(ConsentKind.values)}"))
    if not text_version or len(text_version) > TEXT_VERSION_MAX_LENGTH:
        errors.append(("text_version", f"text version must have 1–{TEXT_VERSION_MAX_LENGTH} characters"))
    if proxy is not None and proxy.pk == resident.pk:
        errors.append(("proxy", "a resident does not consent as their own proxy"))
    if errors:
        raise SigningValidationError(errors)
    with transaction.atomic():
        consent = Consent.objects.create(
            resident=resident,
            kind=kind,
            text_version=text_version,
            accepted_at=timezone.now(),
            recorded_by=_actor_user(actor),
            proxy=proxy,
        )
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="consent",
            resource_id=consent.pk,
            resident_id=resident.pk,
            detail={"kind": kind, "text_version": text_version, "proxy": proxy.pk if proxy else None},
        )
    return consent


def do_withdraw_consent(actor: Actor, consent: Consent, request: HttpRequest | None = None) -> Consent:
    """Withdraw a consent (idempotent). Signings made under it keep their history; new signings and
    renewals need a consent in force."""
    with transaction.atomic():
        current = Consent.objects.select_for_update().get(pk=consent.pk)
        if current.withdrawn_at is None:
            current.withdrawn_at = timezone.now()
            current.save(update_fields=["withdrawn_at"])
            record(
                request=request,
                actor=actor,
                action=Action.UPDATE,
                resource_type="consent",
                resource_id=current.pk,
                resident_id=current.resident_id,
                detail={"withdrawn": True, "kind": current.kind},
            )
    return current


def check_consent(resident: Resident, consent: Consent | None) -> Consent:
    """The signing consent to rely on: the one given if it fits, else the resident's latest in force."""
    if consent is None:
        found = consent_in_force(resident)
        if found is None:
            raise ConsentRequired
        return found
    if consent.resident_id != resident.pk:
        raise SigningValidationError([("consent", "the consent was given for another resident")])
    if consent.kind != ConsentKind.SIGNING:
        raise SigningValidationError([("consent", "the consent is not for the signing agreement")])
    if not consent.in_force:
        raise SigningValidationError([("consent", "the consent has been withdrawn")])
    return consent


# Creating a signing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningTerms:
    """What a signing is made of besides the resident: the same for every member of a household."""

    family_doctor: Staff
    package: ServicePackage
    channel: str = SigningChannel.COUNTER
    team: Team | None = None
    district_hospital: Institution | None = None
    municipal_hospital: Institution | None = None
    specialist: Staff | None = None
    starts_on: date | None = None
    ends_on: date | None = None


@dataclass(frozen=True)
class CheckedTerms:
    """Terms after validation, with the team, centre and dates filled in."""

    terms: SigningTerms
    team: Team
    centre: Institution
    starts_on: date
    ends_on: date


def _check_family_doctor(terms: SigningTerms, errors: list[FieldError]) -> tuple[Team | None, Institution]:
    doctor = terms.family_doctor
    for problem in rules.family_doctor_problems(
        profession=doctor.profession, is_registered_gp=doctor.is_registered_gp, active=doctor.active
    ):
        errors.append(("family_doctor", problem))
    centre = doctor.institution.centre
    team = terms.team if terms.team is not None else team_of(doctor)
    if team is None:
        errors.append(("team", "the family doctor belongs to no family-doctor team"))
    elif not team.members.filter(pk=doctor.pk).exists():
        errors.append(("team", f"the family doctor is not a member of team {team.name}"))
    elif team.centre_id != centre.pk:
        errors.append(("team", "the team works for another centre than the family doctor"))
    return team, centre


def _check_tiers(terms: SigningTerms, errors: list[FieldError]) -> None:
    combination: list[tuple[rules.Tier, str]] = [
        (rules.Tier.FAMILY_DOCTOR, terms.family_doctor.institution.kind)
    ]
    if terms.district_hospital is not None:
        combination.append((rules.Tier.DISTRICT_HOSPITAL, terms.district_hospital.kind))
    if terms.municipal_hospital is not None:
        combination.append((rules.Tier.MUNICIPAL_HOSPITAL, terms.municipal_hospital.kind))
    for tier, message in rules.tier_problems(combination):
        errors.append((tier, message))


def _check_specialist(specialist: Staff | None, errors: list[FieldError]) -> None:
    if specialist is None:
        return
    if specialist.profession != Profession.SPECIALIST:
        errors.append(("specialist", "double signing (双签约) needs a specialist"))
    elif specialist.institution.kind not in rules.SPECIALIST_KINDS:
        errors.append(("specialist", "the specialist must work at a district or municipal hospital"))
    if not specialist.active:
        errors.append(("specialist", "the specialist no longer works here"))


def _check_package(
    resident: Resident,
    terms: SigningTerms,
    starts_on: date,
    household: Household | None,
    errors: list[FieldError],
) -> None:
    package = terms.package
    if not package.active:
        errors.append(("package", f"package {package.code} is no longer offered"))
    if package.year != starts_on.year:
        errors.append(
            ("package", f"package {package.code} is offered for {package.year}, not {starts_on.year}")
        )
    district = district_of(resident)
    if district is not None and package.district_id != district.pk:
        errors.append(("package", f"package {package.code} is not offered in the resident's district"))
    if package.kind == PackageKind.HOUSEHOLD and household is None:
        errors.append(("package", "a household package is signed by the household together"))
    if package.kind == PackageKind.FUNCTIONAL_COMMUNITY and terms.channel not in FUNCTIONAL_CHANNELS:
        errors.append(("package", "a functional-community package is signed in the functional community"))


def check_signing(
    resident: Resident,
    terms: SigningTerms,
    *,
    today: date,
    household: Household | None = None,
) -> CheckedTerms:
    """Validate a new signing's terms for a resident; raises SigningValidationError listing every problem."""
    errors: list[FieldError] = []
    if resident.date_of_death is not None:
        errors.append(("resident", "the resident has died"))
    if household is not None and resident.household_id != household.pk:
        errors.append(("resident", "the resident is not a member of this household"))
    if terms.channel not in SigningChannel.values:
        errors.append(("channel", f"channel must be one of: {', '.join(SigningChannel.values)}"))
    team, centre = _check_family_doctor(terms, errors)
    _check_tiers(terms, errors)
    _check_specialist(terms.specialist, errors)
    starts_on = terms.starts_on or today
    ends_on = terms.ends_on or rules.default_end(starts_on)
    if ends_on < starts_on:
        errors.append(("ends_on", "the signing ends before it starts"))
    _check_package(resident, terms, starts_on, household, errors)
    if errors or team is None:
        raise SigningValidationError(errors)
    return CheckedTerms(terms=terms, team=team, centre=centre, starts_on=starts_on, ends_on=ends_on)


def _log_event(
    signing: Signing, from_status: str, to_status: str, reason: str, actor: Actor, note: str = ""
) -> SigningEvent:
    return SigningEvent.objects.create(
        signing=signing,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        note=note[:NOTE_MAX_LENGTH],
        actor=_actor_user(actor),
        at=timezone.now(),
    )


def _audit(
    signing: Signing,
    action: Action,
    actor: Actor,
    request: HttpRequest | None,
    **detail: Any,
) -> None:
    record(
        request=request,
        actor=actor,
        action=action,
        resource_type="signing",
        resource_id=signing.pk,
        resident_id=signing.resident_id,
        detail={"status": signing.status, **detail},
    )


def _insert_signing(signing: Signing) -> Signing:
    """Insert under a savepoint, turning the one-open-signing constraint into SigningConflict.

    The check before the insert sees committed rows only; two concurrent signings of one resident can
    both pass it (PostgreSQL, READ COMMITTED), and then the partial unique index refuses the second.
    """
    try:
        with transaction.atomic():
            signing.save(force_insert=True)
    except IntegrityError:
        existing = open_signing_of(signing.resident)
        if existing is None:
            raise
        raise SigningConflict(existing) from None
    return signing


def do_create_signing(
    actor: Actor,
    resident: Resident,
    terms: SigningTerms,
    *,
    consent: Consent | None = None,
    household: Household | None = None,
    request: HttpRequest | None = None,
    today: date | None = None,
) -> Signing:
    """Create a pending signing for the resident; the family doctor's side confirms it.

    Raises ConsentRequired without a signing consent in force, SigningValidationError for invalid terms
    and SigningConflict (naming the existing one) when the resident already has an open signing.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        checked = check_signing(resident, terms, today=today, household=household)
        consent = check_consent(resident, consent)
        existing = open_signing_of(resident)
        if existing is not None:
            raise SigningConflict(existing)
        signing = _insert_signing(
            Signing(
                resident=resident,
                family_doctor=terms.family_doctor,
                team=checked.team,
                centre=checked.centre,
                district_hospital=terms.district_hospital,
                municipal_hospital=terms.municipal_hospital,
                specialist=terms.specialist,
                household=household,
                package=terms.package,
                channel=terms.channel,
                status=SigningStatus.PENDING,
                starts_on=checked.starts_on,
                ends_on=checked.ends_on,
                consent=consent,
                created_by=_actor_user(actor),
                status_changed_at=timezone.now(),
            )
        )
        _log_event(signing, "", SigningStatus.PENDING, ChangeReason.NEW, actor)
        _audit(
            signing,
            Action.CREATE,
            actor,
            request,
            family_doctor=terms.family_doctor.pk,
            package=terms.package.code,
            channel=terms.channel,
            institutions=signing.institution_count,
            double_signing=terms.specialist is not None,
        )
    return signing


# Status changes ----------------------------------------------------------------------------------------


def _change_status(
    actor: Actor,
    signing: Signing,
    to_status: SigningStatus,
    reason: str,
    *,
    note: str = "",
    request: HttpRequest | None = None,
) -> Signing:
    """Move a signing to `to_status` under a row lock, if the transition table allows it."""
    with transaction.atomic():
        current = Signing.objects.select_for_update().get(pk=signing.pk)
        try:
            rules.check_transition(current.status, to_status)
        except rules.TransitionError as exc:
            raise SigningStateError(str(exc)) from None
        from_status = current.status
        current.status = to_status
        current.status_changed_at = timezone.now()
        current.save(update_fields=["status", "status_changed_at"])
        _log_event(current, from_status, to_status, reason, actor, note)
        _audit(current, Action.UPDATE, actor, request, from_status=from_status, reason=reason)
    return current


def do_confirm_signing(actor: Actor, signing: Signing, request: HttpRequest | None = None) -> Signing:
    """The family doctor's side confirms a pending signing: it becomes active."""
    return _change_status(actor, signing, SigningStatus.ACTIVE, ChangeReason.CONFIRMED, request=request)


def _check_note(value: str, name: str, *, required: bool) -> str:
    """A free-text reason or note, stripped: bounded, without control characters, present if required."""
    value = value.strip()
    if required and not value:
        raise SigningValidationError([(name, f"{name} is required")])
    if len(value) > NOTE_MAX_LENGTH:
        raise SigningValidationError([(name, f"{name} must have at most {NOTE_MAX_LENGTH} characters")])
    if _CONTROL_CHARACTERS.search(value):
        raise SigningValidationError([(name, f"{name} must not contain control characters")])
    return value


def decline_text(reason: str) -> str:
    """The message telling a resident their signing application was declined (at most 300 characters)."""
    text = f"【家庭医生签约】您的家庭医生签约申请未通过。原因：{reason}。如有疑问请联系社区卫生服务中心。"
    return text[:300]


def do_decline_signing(
    actor: Actor, signing: Signing, reason: str, request: HttpRequest | None = None
) -> Signing:
    """Decline a pending signing, saying why (the resident is told)."""
    note = _check_note(reason, "reason", required=True)
    with transaction.atomic():
        declined = _change_status(
            actor, signing, SigningStatus.DECLINED, ChangeReason.DECLINED, note=note, request=request
        )
        # The resident applied and waits for an answer: they are told, with the reason, through the outbox.
        ReminderMessage.objects.get_or_create(
            signing=declined,
            kind="declined",
            period_ends_on=declined.ends_on,
            defaults={"resident_id": declined.resident_id, "body": decline_text(note)},
        )
    return declined


def do_terminate_signing(
    actor: Actor,
    signing: Signing,
    reason: str,
    *,
    note: str = "",
    request: HttpRequest | None = None,
) -> Signing:
    """End an active signing early (解约) for a reason; "other" needs a note saying what it was."""
    if reason not in TerminationReason.values:
        raise SigningValidationError(
            [("reason", f"reason must be one of: {', '.join(TerminationReason.values)}")]
        )
    note = _check_note(note, "note", required=reason == TerminationReason.OTHER)
    return _change_status(actor, signing, SigningStatus.TERMINATED, reason, note=note, request=request)


def do_expire_ended_signings(
    actor: Actor, *, today: date, request: HttpRequest | None = None, batch: int = 500
) -> int:
    """Mark active signings whose last day is before `today` as expired; returns how many.

    Each signing changes under its own row lock and transaction, so a run that stops half-way keeps
    what it did and the next run picks up the rest; a signing renewed meanwhile is skipped.
    """
    expired = 0
    while True:
        ids = list(
            Signing.objects.filter(status=SigningStatus.ACTIVE, ends_on__lt=today)
            .order_by("id")
            .values_list("id", flat=True)[:batch]
        )
        if not ids:
            return expired
        for signing_id in ids:
            with transaction.atomic():
                current = Signing.objects.select_for_update().filter(pk=signing_id).first()
                if current is None or current.status != SigningStatus.ACTIVE or current.ends_on >= today:
                    continue
                _change_status(actor, current, SigningStatus.EXPIRED, ChangeReason.ENDED, request=request)
                expired += 1


# Renewal -----------------------------------------------------------------------------------------------


def _renewal_package(old: ServicePackage, year: int) -> ServicePackage:
    """The same package as offered in the renewal's year, when the district has republished it."""
    if old.year == year:
        return old
    same = ServicePackage.objects.filter(
        district=old.district_id, year=year, code=old.code, active=True
    ).first()
    return same if same is not None else old


def do_renew_signing(
    actor: Actor,
    signing: Signing,
    *,
    family_doctor: Staff | None = None,
    switch_reason: str = "",
    package: ServicePackage | None = None,
    consent: Consent | None = None,
    request: HttpRequest | None = None,
    today: date | None = None,
    lead_days: int = rules.DEFAULT_RENEWAL_LEAD_DAYS,
) -> Signing:
    """Renew (续约) in one step: the old signing becomes expired and a new active one follows it.

    The new period starts the day after the old one ends (today after a lapse). The resident may
    switch family doctor at renewal, with a reason.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        old = (
            Signing.objects.select_for_update().select_related("package", "family_doctor").get(pk=signing.pk)
        )
        if old.status not in (SigningStatus.ACTIVE, SigningStatus.EXPIRED):
            raise SigningStateError(f"a signing that is {old.status} cannot be renewed")
        if old.successors.exists():
            raise SigningStateError("this signing has already been renewed or transferred")
        if not rules.renewal_due(old.ends_on, today, lead_days):
            opens = old.ends_on - timedelta(days=lead_days)
            raise SigningStateError(f"renewal opens on {opens.isoformat()}")
        switching = family_doctor is not None and family_doctor.pk != old.family_doctor_id
        if switching:
            switch_reason = _check_note(switch_reason, "switch_reason", required=True)
        starts_on = rules.renewal_start(old.ends_on, today)
        terms = SigningTerms(
            family_doctor=family_doctor or old.family_doctor,
            package=package or _renewal_package(old.package, starts_on.year),
            channel=old.channel,
            team=None if switching else old.team,
            district_hospital=old.district_hospital,
            municipal_hospital=old.municipal_hospital,
            specialist=old.specialist,
            starts_on=starts_on,
        )
        checked = check_signing(old.resident, terms, today=today, household=old.household)
        if consent is None and old.consent.in_force:
            consent = old.consent
        consent = check_consent(old.resident, consent)
        if old.status == SigningStatus.ACTIVE:
            old.status = SigningStatus.EXPIRED
            old.status_changed_at = timezone.now()
            old.save(update_fields=["status", "status_changed_at"])
            _log_event(old, SigningStatus.ACTIVE, SigningStatus.EXPIRED, ChangeReason.RENEWED, actor)
            _audit(old, Action.UPDATE, actor, request, from_status=SigningStatus.ACTIVE, reason="renewed")
        else:
            existing = open_signing_of(old.resident)
            if existing is not None:
                raise SigningConflict(existing)
        new = _insert_signing(
            Signing(
                resident=old.resident,
                family_doctor=terms.family_doctor,
                team=checked.team,
                centre=checked.centre,
                district_hospital=terms.district_hospital,
                municipal_hospital=terms.municipal_hospital,
                specialist=terms.specialist,
                household=old.household,
                package=terms.package,
                channel=terms.channel,
                status=SigningStatus.ACTIVE,
                starts_on=checked.starts_on,
                ends_on=checked.ends_on,
                consent=consent,
                previous=old,
                created_by=_actor_user(actor),
                status_changed_at=timezone.now(),
            )
        )
        reason = ChangeReason.DOCTOR_SWITCH if switching else ChangeReason.RENEWED
        _log_event(new, "", SigningStatus.ACTIVE, reason, actor, switch_reason)
        _audit(
            new,
            Action.CREATE,
            actor,
            request,
            previous=old.pk,
            reason=reason,
            family_doctor=new.family_doctor_id,
        )
    return new


# Household signing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberOutcome:
    """What happened to one member of a household signing: a signing, or the reason there is none."""

    resident_id: int
    signing: Signing | None = None
    errors: list[FieldError] = field(default_factory=list)
    existing_signing_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.signing is not None


def do_sign_household(
    actor: Actor,
    household: Household,
    members: Sequence[Resident],
    terms: SigningTerms,
    *,
    consents: dict[int, Consent] | None = None,
    request: HttpRequest | None = None,
    today: date | None = None,
) -> list[MemberOutcome]:
    """Sign several members of a household with one package (家庭签约), one outcome per member.

    Each member is signed under its own savepoint: a member who cannot be signed (no consent, already
    signed, not in the household) is reported without undoing the others.
    """
    today = today or timezone.localdate()
    consents = consents or {}
    outcomes: list[MemberOutcome] = []
    with transaction.atomic():
        for member in members:
            try:
                with transaction.atomic():
                    signing = do_create_signing(
                        actor,
                        member,
                        terms,
                        consent=consents.get(member.pk),
                        household=household,
                        request=request,
                        today=today,
                    )
            except SigningConflict as exc:
                outcomes.append(
                    MemberOutcome(
                        member.pk, errors=[("resident", str(exc))], existing_signing_id=exc.existing.pk
                    )
                )
            except SigningValidationError as exc:
                outcomes.append(MemberOutcome(member.pk, errors=exc.errors))
            else:
                outcomes.append(MemberOutcome(member.pk, signing=signing))
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="household_signing",
            resource_id=household.pk,
            detail={
                "package": terms.package.code,
                "signed": [o.resident_id for o in outcomes if o.ok],
                "not_signed": [o.resident_id for o in outcomes if not o.ok],
            },
        )
    return outcomes


# Panel transfer ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    signing_id: int
    resident_id: int
    to_doctor_id: int
    new_signing_id: int | None = None


@dataclass(frozen=True)
class TransferPlan:
    """Where a departing doctor's active signings go, round-robin; `applied` once written.

    `panel_sizes` are the receiving doctors' active panels after the transfer; `over_capacity` lists
    those whose team would exceed its panel capacity, a soft cap the centre decides about.
    """

    from_doctor_id: int
    assignments: list[Assignment]
    panel_sizes: dict[int, int]
    over_capacity: list[int]
    applied: bool = False


def check_transfer(from_doctor: Staff, to_doctors: Sequence[Staff]) -> dict[int, Team]:
    """The receiving doctors' teams; every receiver must be an active GP of the departing doctor's centre."""
    errors: list[FieldError] = []
    if not to_doctors:
        errors.append(("to_doctors", "name at least one family doctor to take over the panel"))
    if len({d.pk for d in to_doctors}) != len(to_doctors):
        errors.append(("to_doctors", "a family doctor is named twice"))
    teams: dict[int, Team] = {}
    centre = from_doctor.institution.centre
    for doctor in to_doctors:
        name = f"to_doctors.{doctor.pk}"
        if doctor.pk == from_doctor.pk:
            errors.append((name, "the departing doctor cannot take over their own panel"))
            continue
        for problem in rules.family_doctor_problems(
            profession=doctor.profession, is_registered_gp=doctor.is_registered_gp, active=doctor.active
        ):
            errors.append((name, problem))
        if doctor.institution.centre.pk != centre.pk:
            errors.append((name, "panels move within the centre"))
        team = team_of(doctor)
        if team is None:
            errors.append((name, "the family doctor belongs to no family-doctor team"))
        else:
            teams[doctor.pk] = team
    if errors:
        raise SigningValidationError(errors)
    return teams


def _plan(
    from_doctor: Staff, to_doctors: Sequence[Staff], teams: dict[int, Team], lock: bool
) -> TransferPlan:
    signings = Signing.objects.filter(family_doctor=from_doctor, status=SigningStatus.ACTIVE).order_by("id")
    if lock:
        signings = signings.select_for_update()
    rows = list(signings.values_list("id", "resident_id"))
    assignments = [
        Assignment(signing_id=sid, resident_id=rid, to_doctor_id=to_doctors[i % len(to_doctors)].pk)
        for i, (sid, rid) in enumerate(rows)
    ]
    panel_sizes: dict[int, int] = {}
    over: list[int] = []
    for doctor in to_doctors:
        current = Signing.objects.filter(family_doctor=doctor, status=SigningStatus.ACTIVE).count()
        size = current + sum(1 for a in assignments if a.to_doctor_id == doctor.pk)
        panel_sizes[doctor.pk] = size
        if size > teams[doctor.pk].panel_capacity:
            over.append(doctor.pk)
    return TransferPlan(from_doctor.pk, assignments, panel_sizes, over)


def do_transfer_panel(
    actor: Actor,
    from_doctor: Staff,
    to_doctors: Sequence[Staff],
    *,
    preview: bool = True,
    request: HttpRequest | None = None,
    today: date | None = None,
) -> TransferPlan:
    """Distribute a departing doctor's active signings over other GPs of the centre, round-robin.

    With `preview` nothing is written but the audit entry of who looked. Applied, each signing becomes
    transferred and a new active signing with the receiving doctor continues the same period, linked
    to the old one, with an event and an audit entry per resident.
    """
    today = today or timezone.localdate()
    teams = check_transfer(from_doctor, to_doctors)
    with transaction.atomic():
        plan = _plan(from_doctor, to_doctors, teams, lock=not preview)
        if preview:
            record(
                request=request,
                actor=actor,
                action=Action.READ,
                resource_type="panel_transfer",
                resource_id=from_doctor.pk,
                detail={"preview": True, "signings": len(plan.assignments), "to": list(plan.panel_sizes)},
            )
            return plan
        doctors = {d.pk: d for d in to_doctors}
        applied: list[Assignment] = []
        for assignment in plan.assignments:
            new = _transfer_one(actor, assignment, doctors[assignment.to_doctor_id], teams, request, today)
            applied.append(replace(assignment, new_signing_id=new.pk))
        record(
            request=request,
            actor=actor,
            action=Action.UPDATE,
            resource_type="panel_transfer",
            resource_id=from_doctor.pk,
            detail={
                "signings": len(applied),
                "to": {str(k): v for k, v in plan.panel_sizes.items()},
                "over_capacity": plan.over_capacity,
            },
        )
    return replace(plan, assignments=applied, applied=True)


def _transfer_one(
    actor: Actor,
    assignment: Assignment,
    doctor: Staff,
    teams: dict[int, Team],
    request: HttpRequest | None,
    today: date,
) -> Signing:
    old = Signing.objects.get(pk=assignment.signing_id)
    return _continue_with(
        actor,
        old,
        doctor,
        teams[doctor.pk],
        ChangeReason.PANEL_TRANSFER,
        f"to family doctor {doctor.code}",
        request,
        today,
    )


def _continue_with(
    actor: Actor,
    old: Signing,
    doctor: Staff,
    team: Team,
    reason: ChangeReason,
    note: str,
    request: HttpRequest | None,
    today: date,
) -> Signing:
    """End `old` as transferred and open a signing with `doctor` for the rest of the same period."""
    rules.check_transition(old.status, SigningStatus.TRANSFERRED)
    old.status = SigningStatus.TRANSFERRED
    old.status_changed_at = timezone.now()
    old.save(update_fields=["status", "status_changed_at"])
    _log_event(old, SigningStatus.ACTIVE, SigningStatus.TRANSFERRED, reason, actor, note)
    _audit(old, Action.UPDATE, actor, request, from_status=SigningStatus.ACTIVE, reason=str(reason))
    # The resident's contract period is unchanged; only the doctor taking care of it is.
    starts_on = min(max(today, old.starts_on), old.ends_on)
    new = _insert_signing(
        Signing(
            resident_id=old.resident_id,
            family_doctor=doctor,
            team=team,
            centre=team.centre,
            district_hospital_id=old.district_hospital_id,
            municipal_hospital_id=old.municipal_hospital_id,
            specialist_id=old.specialist_id,
            household_id=old.household_id,
            package_id=old.package_id,
            channel=old.channel,
            status=SigningStatus.ACTIVE,
            starts_on=starts_on,
            ends_on=old.ends_on,
            consent_id=old.consent_id,
            previous=old,
            created_by=_actor_user(actor),
            status_changed_at=timezone.now(),
        )
    )
    _log_event(new, "", SigningStatus.ACTIVE, reason, actor, f"from signing #{old.pk}")
    _audit(new, Action.CREATE, actor, request, previous=old.pk, reason=str(reason))
    return new


def do_switch_doctor(
    actor: Actor,
    signing: Signing,
    family_doctor: Staff,
    reason: str,
    *,
    request: HttpRequest | None = None,
    today: date | None = None,
) -> Signing:
    """Switch family doctor within the signing period (期内更换家庭医生), with the resident's reason.

    The old signing becomes transferred; a new active signing with the chosen doctor and their team keeps
    the same package, hospitals, consent and end date, linked to the old one.
    """
    today = today or timezone.localdate()
    note = _check_note(reason, "reason", required=True)
    with transaction.atomic():
        old = Signing.objects.select_for_update().select_related("family_doctor").get(pk=signing.pk)
        if old.status != SigningStatus.ACTIVE:
            raise SigningStateError(f"a signing that is {old.status} cannot switch doctor")
        if old.successors.exists():
            raise SigningStateError("this signing has already been renewed or transferred")
        if family_doctor.pk == old.family_doctor_id:
            raise SigningValidationError([("family_doctor", "choose a different family doctor")])
        errors: list[FieldError] = []
        terms = SigningTerms(family_doctor=family_doctor, package=old.package, starts_on=today)
        team, _centre = _check_family_doctor(terms, errors)
        if errors:
            raise SigningValidationError(errors)
        if team is None:  # reported above; kept for the type checker
            raise SigningValidationError([("team", "the family doctor belongs to no family-doctor team")])
        return _continue_with(
            actor,
            old,
            family_doctor,
            team,
            ChangeReason.MID_PERIOD_SWITCH,
            f"to family doctor {family_doctor.code}: {note}",
            request,
            today,
        )
