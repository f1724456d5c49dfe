"""Identity matching in the database: finding candidates, provisional persons, the review queue,
merging duplicate residents and undoing a merge, and the duplicates report.

The scoring itself is `records.matching` (pure). Every change here is audited; a merge lists every
record it moved, and unmerging moves exactly those back.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from itertools import combinations
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from jiayi.audit.models import Action
from jiayi.audit.services import Event, record, record_many
from jiayi.records import matching
from jiayi.records.matching import Person, Score
from jiayi.records.models import (
    ClinicalEntry,
    Condition,
    ElderlyExam,
    Encounter,
    MatchReview,
    Medication,
    Observation,
    PatientLink,
    ResidentMerge,
    ReviewStatus,
    SchoolHealthCheck,
)
from jiayi.registry.choices import AlternativeIdType
from jiayi.registry.models import Place, Resident

ENTRY_MODELS: tuple[type[ClinicalEntry], ...] = (
    Encounter,
    Condition,
    Observation,
    Medication,
    ElderlyExam,
    SchoolHealthCheck,
)
MAX_CANDIDATES = 200


class MergeError(ValueError):
    """A merge or unmerge that cannot be done, with the reason."""


def person_of(resident: Resident) -> Person:
    return Person(resident.name, resident.birth_date, resident.sex, resident.phone, resident.citizen_id)


def active_residents() -> QuerySet[Resident]:
    """Residents that are not a merged-away duplicate."""
    return Resident.objects.filter(merged_into__isnull=True)


def candidates(person: Person, scope: QuerySet[Resident]) -> list[tuple[int, Person]]:
    """Residents that share at least the birth date, the phone or the name (blocking keeps the number
    of comparisons small; a record that shares none of them could not reach the review threshold)."""
    wanted = Q(name=person.name)
    if person.birth_date is not None:
        wanted |= Q(birth_date=person.birth_date)
    if matching.phone_digits(person.phone):
        wanted |= Q(phone=person.phone)
    rows = (
        scope.filter(merged_into__isnull=True)
        .filter(wanted)
        .values_list("id", "name", "birth_date", "sex", "phone", "citizen_id")
        .order_by("id")[:MAX_CANDIDATES]
    )
    return [
        (pk, Person(name, birth, sex, phone, citizen_id)) for pk, name, birth, sex, phone, citizen_id in rows
    ]


def best_candidate(person: Person, scope: QuerySet[Resident]) -> tuple[int, Score] | None:
    return matching.best_match(person, candidates(person, scope))


def provisional_number(source_system: str, identifiers: Iterable[tuple[str, str]]) -> str:
    """A stable provisional number from the sender's identifiers: the same record sent twice gets the
    same number, and no personal data can be read from it."""
    text = "\n".join([source_system, *sorted(f"{s}|{v}" for s, v in identifiers)])
    return "P" + hashlib.sha256(text.encode()).hexdigest()[:20].upper()


def create_provisional(
    *,
    actor: Any,
    name: str,
    birth_date: date,
    sex: str,
    phone: str,
    health_record_number: str | None,
    alt_id: tuple[str, str] | None,
    committee: Place | None,
    source_system: str,
    identifiers: list[tuple[str, str]],
    request: HttpRequest | None = None,
) -> Resident:
    """Register a provisional person (临时档案) for a record no resident matched well enough."""
    alt_type, alt_number = alt_id or (
        AlternativeIdType.PROVISIONAL.value,
        provisional_number(source_system, identifiers),
    )
    resident = Resident.objects.create(
        name=name[:64],
        birth_date=birth_date,
        sex=sex,
        phone=phone[:20],
        health_record_number=health_record_number,
        alt_id_type=alt_type,
        alt_id_number=alt_number[:32],
        committee=committee,
        is_resident=True,
        provisional=True,
    )
    # The sender's identifiers stay linked to the person, also once it is merged into a resident.
    link_identifiers(resident, identifiers, source_system=source_system, score=0.0, now=resident.created_at)
    record(
        request=request,
        actor=actor,
        action=Action.CREATE,
        resource_type="resident",
        resource_id=resident.pk,
        resident_id=resident.pk,
        detail={"provisional": True, "source_system": source_system},
    )
    return resident


def link_identifiers(
    resident: Resident,
    identifiers: Iterable[tuple[str, str]],
    *,
    source_system: str,
    score: float,
    now: datetime,
) -> None:
    for system, value in identifiers:
        PatientLink.objects.update_or_create(
            system=system,
            value=value,
            defaults={
                "resident": resident,
                "source_system": source_system,
                "score": score,
                "created_at": now,
            },
        )


def open_review(
    *, provisional: Resident, candidate_id: int, found: Score, source_system: str, now: datetime
) -> MatchReview:
    return MatchReview.objects.create(
        provisional=provisional,
        candidate_id=candidate_id,
        score=found.total,
        parts=found.parts,
        source_system=source_system,
        created_at=now,
    )


def follow_merges(resident_id: int) -> int:
    """The resident a (possibly merged-away) record now lives on."""
    seen: set[int] = set()
    current = resident_id
    while current not in seen:
        seen.add(current)
        target = Resident.objects.filter(pk=current).values_list("merged_into_id", flat=True).first()
        if target is None:
            return current
        current = target
    return current


# Merge and unmerge ------------------------------------------------------------------------------------


def merge_residents(
    actor: Any,
    survivor: Resident,
    duplicate: Resident,
    *,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> ResidentMerge:
    """Move every health-account record and identifier link of `duplicate` to `survivor` and mark the
    duplicate merged. The merge lists what it moved; each moved record is audited."""
    if survivor.pk == duplicate.pk:
        raise MergeError("a resident cannot be merged into themself")
    now = now or timezone.now()
    with transaction.atomic():
        locked = {
            r.pk: r for r in Resident.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk])
        }
        if locked[duplicate.pk].merged_into_id is not None:
            raise MergeError(f"resident #{duplicate.pk} is already merged into another resident")
        if locked[survivor.pk].merged_into_id is not None:
            raise MergeError(
                f"resident #{survivor.pk} is itself merged away; merge into the resident it went to"
            )
        moved: list[list[Any]] = []
        for model in ENTRY_MODELS:
            ids = list(model._default_manager.filter(resident_id=duplicate.pk).values_list("pk", flat=True))
            if ids:
                model._default_manager.filter(pk__in=ids).update(resident_id=survivor.pk)
                moved.extend([model._meta.model_name or "", pk] for pk in ids)
        links = list(PatientLink.objects.filter(resident_id=duplicate.pk).values_list("pk", flat=True))
        PatientLink.objects.filter(pk__in=links).update(resident_id=survivor.pk)
        moved.extend(["patientlink", pk] for pk in links)
        Resident.objects.filter(pk=duplicate.pk).update(merged_into_id=survivor.pk, updated_at=now)
        merge = ResidentMerge.objects.create(
            survivor=survivor,
            duplicate=duplicate,
            moved=moved,
            merged_at=now,
            merged_by=_user(actor, request),
        )
        _audit_moves(
            actor, request, merge, moved, to_resident=survivor.pk, from_resident=duplicate.pk, undo=False
        )
    duplicate.merged_into_id = survivor.pk
    return merge


def unmerge(
    actor: Any, merge: ResidentMerge, *, request: HttpRequest | None = None, now: datetime | None = None
) -> ResidentMerge:
    """Undo a merge: move back exactly the records it moved and make the duplicate a resident again."""
    now = now or timezone.now()
    with transaction.atomic():
        merge = ResidentMerge.objects.select_for_update().get(pk=merge.pk)
        if merge.undone_at is not None:
            raise MergeError(f"merge #{merge.pk} was already undone")
        models = {m._meta.model_name: m for m in ENTRY_MODELS}
        by_model: dict[str, list[int]] = defaultdict(list)
        for name, pk in merge.moved:
            by_model[name].append(pk)
        for name, ids in by_model.items():
            manager = PatientLink.objects if name == "patientlink" else models[name]._default_manager
            manager.filter(pk__in=ids, resident_id=merge.survivor_id).update(resident_id=merge.duplicate_id)
        Resident.objects.filter(pk=merge.duplicate_id).update(merged_into=None, updated_at=now)
        merge.undone_at = now
        merge.undone_by = _user(actor, request)
        merge.save(update_fields=["undone_at", "undone_by"])
        _audit_moves(
            actor,
            request,
            merge,
            merge.moved,
            to_resident=merge.duplicate_id,
            from_resident=merge.survivor_id,
            undo=True,
        )
    return merge


def _user(actor: Any, request: HttpRequest | None) -> Any:
    user = actor if actor is not None else getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


def _audit_moves(
    actor: Any,
    request: HttpRequest | None,
    merge: ResidentMerge,
    moved: list[list[Any]],
    *,
    to_resident: int,
    from_resident: int,
    undo: bool,
) -> None:
    what = "unmerge" if undo else "merge"
    events = [
        Event(
            Action.UPDATE,
            "resident_merge",
            merge.pk,
            resident_id=resident,
            detail={
                "what": what,
                "survivor": merge.survivor_id,
                "duplicate": merge.duplicate_id,
                "moved": len(moved),
            },
        )
        for resident in (to_resident, from_resident)
    ]
    events += [
        Event(
            Action.UPDATE,
            name,
            pk,
            resident_id=to_resident,
            detail={what: merge.pk, "from_resident": from_resident, "fields": ["resident"]},
        )
        for name, pk in moved
    ]
    record_many(events, request=request, actor=actor)


# The review queue -------------------------------------------------------------------------------------


def decide_review(
    actor: Any,
    review: MatchReview,
    *,
    same_person: bool,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> MatchReview:
    """Settle a possible match: the same person merges the provisional record into the candidate;
    different people keep both (the provisional person stays provisional until registered)."""
    now = now or timezone.now()
    with transaction.atomic():
        review = MatchReview.objects.select_for_update().get(pk=review.pk)
        if review.status != ReviewStatus.PENDING:
            raise MergeError(f"review #{review.pk} was already decided")
        if same_person:
            merge_residents(actor, review.candidate, review.provisional, request=request, now=now)
            review.status = ReviewStatus.LINKED
        else:
            review.status = ReviewStatus.DISTINCT
        review.decided_at = now
        review.decided_by = _user(actor, request)
        review.save(update_fields=["status", "decided_at", "decided_by"])
        record(
            request=request,
            actor=actor,
            action=Action.UPDATE,
            resource_type="match_review",
            resource_id=review.pk,
            resident_id=review.candidate_id,
            detail={"status": review.status, "provisional": review.provisional_id},
        )
    return review


# The duplicates report --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    first: int
    second: int
    score: Score


def find_duplicates(scope: QuerySet[Resident], *, minimum: float = matching.REVIEW) -> list[DuplicatePair]:
    """Pairs of active residents scoring at least `minimum`, best first. Residents are compared within
    blocks sharing a birth date or a phone number, so the work grows with the district, not its
    square."""
    rows = scope.filter(merged_into__isnull=True).values_list(
        "id", "name", "birth_date", "sex", "phone", "citizen_id"
    )
    people: dict[int, Person] = {}
    blocks: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, name, birth, sex, phone, citizen_id in rows.iterator(chunk_size=5000):
        people[pk] = Person(name, birth, sex, phone, citizen_id)
        blocks[("birth", birth.isoformat())].append(pk)
        digits = matching.phone_digits(phone)
        if digits:
            blocks[("phone", digits)].append(pk)
    found: dict[tuple[int, int], Score] = {}
    for members in blocks.values():
        if len(members) < 2 or len(members) > MAX_CANDIDATES:
            continue  # a phone shared by a whole care home says nothing about identity
        for a, b in combinations(sorted(members), 2):
            if (a, b) in found:
                continue
            result = matching.score(people[a], people[b])
            if result.total >= minimum and "citizen_id" not in result.parts:
                found[(a, b)] = result
    pairs = [DuplicatePair(a, b, s) for (a, b), s in found.items()]
    return sorted(pairs, key=lambda p: (-p.score.total, p.first, p.second))
