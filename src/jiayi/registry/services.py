"""Registry state changes: the one write path for residents, shared by the API, pages, admin and imports.

`check_*` functions validate and report every problem at once as `(field, message)` pairs; `do_*`
functions run the checks, write atomically and append the audit entry in the same transaction, so a
failed audit write or a failed check leaves nothing behind.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, TypedDict, cast

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.registry import identity
from jiayi.registry.choices import (
    DERIVED_KEY_POPULATIONS,
    AlternativeIdType,
    KeyPopulation,
    PlaceLevel,
    Relationship,
    Sex,
)
from jiayi.registry.models import (
    Household,
    KeyPopulationDeclaration,
    Place,
    Resident,
    ResidentialPoint,
)

Actor = User | AnonymousUser | None
FieldError = tuple[str, str]

_ALT_ID_SHAPE = re.compile(r"^[A-Z0-9-]{4,32}$")
_HEALTH_RECORD_SHAPE = re.compile(r"^[0-9]{17}$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_PHONE_MESSAGE = "phone must be an 11-digit mainland mobile number starting with 13–19"
NAME_MAX_LENGTH = 64
NOTE_MAX_LENGTH = 200


class ResidentData(TypedDict, total=False):
    """A resident's registry fields as plain values; foreign keys by id."""

    citizen_id: str | None
    alt_id_type: str
    alt_id_number: str
    health_record_number: str | None
    name: str
    sex: str
    birth_date: date | None
    phone: str
    committee_id: int | None
    residential_point_id: int | None
    household_id: int | None
    relationship: str
    is_resident: bool
    is_registered: bool
    date_of_death: date | None


RESIDENT_FIELDS: tuple[str, ...] = tuple(ResidentData.__annotations__)
# Changes to these need the uniqueness check against other residents.
IDENTIFIER_FIELDS = frozenset({"citizen_id", "alt_id_type", "alt_id_number", "health_record_number"})


class RegistryValidationError(Exception):
    """Invalid registry data, with every problem found as (field, message)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors: list[FieldError] = list(errors)
        # Only field names in the exception text: messages can quote the ID or dates a clerk typed,
        # and an exception's text may end up in a log.
        super().__init__("invalid registry data: " + ", ".join(field for field, _ in self.errors))


class DuplicateResidentError(Exception):
    """Another resident already holds a unique identifier given for this one."""

    field = "citizen_id"
    what = "citizen ID"

    def __init__(self, existing_resident_id: int) -> None:
        self.existing_resident_id = existing_resident_id
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"resident #{self.existing_resident_id} already has this {self.what}"


class DuplicateCitizenIdError(DuplicateResidentError):
    field = "citizen_id"
    what = "citizen ID"


class DuplicateAlternativeIdError(DuplicateResidentError):
    field = "alt_id_number"
    what = "alternative identifier"


class DuplicateHealthRecordNumberError(DuplicateResidentError):
    field = "health_record_number"
    what = "health record number"


def resident_data(resident: Resident) -> ResidentData:
    """The registry fields of a stored resident, in the shape `check_resident_data` takes."""
    return cast(ResidentData, {field: getattr(resident, field) for field in RESIDENT_FIELDS})


def _halfwidth(value: str | None) -> str:
    """Full-width digits and letters (１２３Ｘ, as Chinese input methods type them) as plain ASCII.

    The parser's `\\d` accepts any Unicode digit, so without this the same person could be stored
    twice: once with ASCII digits and once with full-width ones.
    """
    return unicodedata.normalize("NFKC", value or "")


def _blank_to_none(value: str | None) -> str | None:
    value = _halfwidth(value).strip()
    return value or None


def _check_name(value: str | None, errors: list[FieldError]) -> str:
    name = (value or "").strip()
    if not name:
        errors.append(("name", "name is required"))
    elif len(name) > NAME_MAX_LENGTH:
        errors.append(("name", f"name must have at most {NAME_MAX_LENGTH} characters"))
    elif _CONTROL_CHARACTERS.search(name):
        errors.append(("name", "name must not contain control characters"))
    return name


def _check_choice(
    field: str, value: str | None, choices: type[Any], label: str, errors: list[FieldError], *, required: bool
) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            errors.append((field, f"{label} is required"))
        return ""
    if value not in choices.values:
        errors.append((field, f"{label} must be one of: {', '.join(choices.values)}"))
    return value


def _check_flag(field: str, value: object, errors: list[FieldError]) -> bool:
    # A null or "no" must not quietly become False: that would end a person's residence by accident.
    if isinstance(value, bool):
        return value
    errors.append((field, f"{field} must be true or false"))
    return True


def _check_dates(
    birth_date: date | None, date_of_death: date | None, today: date, errors: list[FieldError]
) -> None:
    if birth_date is None:
        errors.append(("birth_date", "birth date is required"))
    elif birth_date > today:
        errors.append(("birth_date", "birth date is in the future"))
    elif birth_date < identity.EARLIEST_BIRTH:
        errors.append(("birth_date", f"birth date is before {identity.EARLIEST_BIRTH.year}"))
    if date_of_death is None:
        return
    if date_of_death > today:
        errors.append(("date_of_death", "date of death is in the future"))
    if birth_date is not None and date_of_death < birth_date:
        errors.append(("date_of_death", "date of death is before the birth date"))


def _check_identifiers(
    data: Mapping[str, Any], clean: ResidentData, today: date, errors: list[FieldError]
) -> None:
    citizen_id = _blank_to_none(data.get("citizen_id"))
    if citizen_id is not None and not citizen_id.isascii():  # digits of other scripts (٣, ३)
        errors.append(("citizen_id", "citizen ID must be 17 digits followed by a digit or X"))
    elif citizen_id is not None:
        try:
            parsed = identity.parse_citizen_id(citizen_id, today=today)
        except ValueError as exc:
            errors.append(("citizen_id", str(exc)))
        else:
            citizen_id = parsed.number
            for problem in identity.check_consistency(
                parsed, birth_date=clean.get("birth_date"), sex=clean.get("sex") or None
            ):
                errors.append(("birth_date" if problem.startswith("birth") else "sex", problem))
    clean["citizen_id"] = citizen_id

    alt_type = _check_choice(
        "alt_id_type",
        data.get("alt_id_type"),
        AlternativeIdType,
        "alternative identifier type",
        errors,
        required=False,
    )
    alt_number = re.sub(r"\s", "", _halfwidth(data.get("alt_id_number"))).upper()
    if alt_number and not _ALT_ID_SHAPE.match(alt_number):
        errors.append(("alt_id_number", "alternative identifier must be 4–32 letters, digits or hyphens"))
    # People without a citizen ID are identified by a documented alternative; a type without a number
    # (or the reverse) identifies nobody, with or without a citizen ID.
    if citizen_id is None and not alt_type and not alt_number:
        errors.append(("alt_id_type", "a resident without a citizen ID needs an alternative identifier type"))
        errors.append(("alt_id_number", "a resident without a citizen ID needs an alternative identifier"))
    elif not alt_type and alt_number:
        errors.append(("alt_id_type", "alternative identifier type is required with its number"))
    elif alt_type and not alt_number:
        errors.append(("alt_id_number", "alternative identifier number is required with its type"))
    clean["alt_id_type"] = alt_type
    clean["alt_id_number"] = alt_number

    record_number = _blank_to_none(data.get("health_record_number"))
    if record_number is not None and not _HEALTH_RECORD_SHAPE.match(record_number):
        errors.append(("health_record_number", "health record number must have 17 digits"))
    clean["health_record_number"] = record_number


def _check_places(
    data: Mapping[str, Any],
    clean: ResidentData,
    committees: QuerySet[Place] | None,
    errors: list[FieldError],
) -> None:
    committee_id = data.get("committee_id")
    committee: Place | None = None
    if committee_id is None:
        errors.append(("committee_id", "committee is required"))
    else:
        committee = Place.objects.filter(pk=committee_id).first()
        if committee is None:
            errors.append(("committee_id", f"committee {committee_id} does not exist"))
        elif committee.level != PlaceLevel.COMMITTEE:
            errors.append(("committee_id", f"place {committee.code} is not a residential committee"))
        elif committees is not None and not committees.filter(pk=committee.pk).exists():
            errors.append(("committee_id", f"you cannot register residents in committee {committee.code}"))
    clean["committee_id"] = committee_id

    point_id = data.get("residential_point_id")
    if point_id is not None:
        point = ResidentialPoint.objects.filter(pk=point_id).first()
        if point is None:
            errors.append(("residential_point_id", f"residential point {point_id} does not exist"))
        elif committee is not None and point.committee_id != committee.pk:
            errors.append(
                (
                    "residential_point_id",
                    f"residential point {point.code} is not in committee {committee.code}",
                )
            )
    clean["residential_point_id"] = point_id

    household_id = data.get("household_id")
    if household_id is not None and not Household.objects.filter(pk=household_id).exists():
        errors.append(("household_id", f"household {household_id} does not exist"))
    clean["household_id"] = household_id


def check_resident_data(
    data: Mapping[str, Any], *, today: date, committees: QuerySet[Place] | None = None
) -> ResidentData:
    """Validate a whole resident record and return it normalised.

    `committees`, when given, limits the committee to those the acting user may register residents
    into; None means any committee (administrators, imports). Raises RegistryValidationError listing
    every problem, so a form or API client can show them all at once.
    """
    errors: list[FieldError] = [(field, "unknown field") for field in data if field not in RESIDENT_FIELDS]
    clean: ResidentData = {}
    clean["name"] = _check_name(data.get("name"), errors)
    clean["sex"] = _check_choice("sex", data.get("sex"), Sex, "sex", errors, required=True)
    clean["birth_date"] = data.get("birth_date")
    clean["date_of_death"] = data.get("date_of_death")
    _check_dates(clean["birth_date"], clean["date_of_death"], today, errors)
    _check_identifiers(data, clean, today, errors)

    phone = _halfwidth(data.get("phone")).strip()
    if phone:
        try:
            if not phone.isascii():
                raise ValueError(_PHONE_MESSAGE)
            phone = identity.validate_phone(phone)
        except ValueError as exc:
            errors.append(("phone", str(exc)))
    clean["phone"] = phone

    _check_places(data, clean, committees, errors)
    relationship = _check_choice(
        "relationship", data.get("relationship"), Relationship, "relationship", errors, required=False
    )
    if relationship and clean["household_id"] is None:
        errors.append(("relationship", "a relationship to the head of household needs a household"))
    clean["relationship"] = relationship

    clean["is_resident"] = _check_flag("is_resident", data.get("is_resident", True), errors)
    clean["is_registered"] = _check_flag("is_registered", data.get("is_registered", False), errors)
    if not (clean["is_resident"] or clean["is_registered"]):
        errors.append(("is_resident", "a resident must live (常住) or be registered (户籍) in the district"))

    if errors:
        raise RegistryValidationError(errors)
    return clean


def find_duplicate(data: ResidentData, *, exclude_pk: int | None = None) -> DuplicateResidentError | None:
    """The conflict a resident's unique identifiers would cause with another stored resident, if any."""
    others = Resident.objects.exclude(pk=exclude_pk) if exclude_pk is not None else Resident.objects.all()
    checks: list[tuple[type[DuplicateResidentError], Q | None]] = [
        (DuplicateCitizenIdError, Q(citizen_id=data["citizen_id"]) if data.get("citizen_id") else None),
        (
            DuplicateAlternativeIdError,
            Q(alt_id_type=data.get("alt_id_type", ""), alt_id_number=data["alt_id_number"])
            if data.get("alt_id_number")
            else None,
        ),
        (
            DuplicateHealthRecordNumberError,
            Q(health_record_number=data["health_record_number"])
            if data.get("health_record_number")
            else None,
        ),
    ]
    for error_class, condition in checks:
        if condition is None:
            continue
        existing = others.filter(condition).values_list("pk", flat=True).first()
        if existing is not None:
            return error_class(existing)
    return None


def _changed_fields(before: Mapping[str, Any], after: ResidentData) -> list[str]:
    return [field for field in RESIDENT_FIELDS if before.get(field) != after.get(field)]


def do_create_resident(
    actor: Actor,
    data: Mapping[str, Any],
    request: HttpRequest | None = None,
    *,
    committees: QuerySet[Place] | None = None,
    today: date | None = None,
) -> Resident:
    """Register a resident and audit it; raises RegistryValidationError or DuplicateResidentError."""
    clean = check_resident_data(data, today=today or timezone.localdate(), committees=committees)
    duplicate = find_duplicate(clean)
    if duplicate is not None:
        raise duplicate
    try:
        with transaction.atomic():
            resident = Resident.objects.create(**clean)
            record(
                request=request,
                actor=actor,
                action=Action.CREATE,
                resource_type="resident",
                resource_id=resident.pk,
                resident_id=resident.pk,
                detail={"fields": sorted(data)},  # which fields were given; never their values
            )
    except IntegrityError:
        # A concurrent create won the race between our check and our insert: the unique constraint
        # refused the second row, so report it like any other duplicate.
        duplicate = find_duplicate(clean)
        if duplicate is None:
            raise
        raise duplicate from None
    return resident


def do_update_resident(
    actor: Actor,
    resident: Resident,
    changes: Mapping[str, Any],
    request: HttpRequest | None = None,
    *,
    committees: QuerySet[Place] | None = None,
    today: date | None = None,
) -> Resident:
    """Apply `changes` to a resident, validating the whole resulting record, and audit it.

    Returns the updated resident read under a row lock; the `resident` passed in is only used for its
    primary key, so a form that already mutated it cannot smuggle unvalidated values in. `committees`
    limits a move to another committee (it is not checked when the committee stays the same).
    """
    with transaction.atomic():
        current = Resident.objects.select_for_update().get(pk=resident.pk)
        before = resident_data(current)
        merged: dict[str, Any] = {**before, **changes}
        moving = merged.get("committee_id") != before["committee_id"]
        clean = check_resident_data(
            merged, today=today or timezone.localdate(), committees=committees if moving else None
        )
        changed = _changed_fields(before, clean)
        if IDENTIFIER_FIELDS.intersection(changed):
            duplicate = find_duplicate(clean, exclude_pk=current.pk)
            if duplicate is not None:
                raise duplicate
        for field in changed:
            setattr(current, field, clean[field])  # type: ignore[literal-required]
        if changed:
            try:
                with transaction.atomic():
                    current.save(update_fields=[*changed, "updated_at"])
            except IntegrityError:
                duplicate = find_duplicate(clean, exclude_pk=current.pk)
                if duplicate is None:
                    raise
                raise duplicate from None
        record(
            request=request,
            actor=actor,
            action=Action.UPDATE,
            resource_type="resident",
            resource_id=current.pk,
            resident_id=current.pk,
            detail={"fields": changed},
        )
    return current


def check_key_population_declaration(
    resident: Resident,
    key_population: str,
    *,
    valid_from: date,
    valid_until: date | None,
    note: str,
) -> None:
    """Validate a declaration; derived memberships (65+, 0–6) come from the birth date, not a person."""
    errors: list[FieldError] = []
    if key_population not in KeyPopulation.values:
        errors.append(("key_population", f"key population must be one of: {', '.join(KeyPopulation.values)}"))
    elif key_population in DERIVED_KEY_POPULATIONS:
        errors.append(
            ("key_population", f"{key_population} follows from the birth date and cannot be declared")
        )
    if valid_until is not None and valid_until < valid_from:
        errors.append(("valid_until", "valid until is before valid from"))
    if valid_from < resident.birth_date:
        errors.append(("valid_from", "valid from is before the resident's birth date"))
    if len(note) > NOTE_MAX_LENGTH:
        errors.append(("note", f"note must have at most {NOTE_MAX_LENGTH} characters"))
    if not errors:
        overlapping = resident.key_population_declarations.filter(key_population=key_population).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=valid_from)
        )
        if valid_until is not None:
            overlapping = overlapping.filter(valid_from__lte=valid_until)
        if overlapping.exists():
            errors.append(("key_population", f"{key_population} is already declared for this period"))
    if errors:
        raise RegistryValidationError(errors)


def do_declare_key_population(
    actor: Actor,
    resident: Resident,
    key_population: str,
    *,
    valid_from: date,
    valid_until: date | None = None,
    note: str = "",
    request: HttpRequest | None = None,
) -> KeyPopulationDeclaration:
    """Record that a resident belongs to a key population (重点人群) from a date, and audit it."""
    note = note.strip()
    with transaction.atomic():
        check_key_population_declaration(
            resident, key_population, valid_from=valid_from, valid_until=valid_until, note=note
        )
        declaration = KeyPopulationDeclaration.objects.create(
            resident=resident,
            key_population=key_population,
            declared_by=actor if isinstance(actor, User) else None,
            declared_at=timezone.now(),
            valid_from=valid_from,
            valid_until=valid_until,
            note=note,
        )
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="key_population_declaration",
            resource_id=declaration.pk,
            resident_id=resident.pk,
            detail={"key_population": key_population},
        )
    return declaration
