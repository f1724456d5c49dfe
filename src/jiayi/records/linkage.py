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

from django.apps import apps
from django.db import transaction
from django.db.models import F, Model, Q, QuerySet, Sum, UniqueConstraint
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
#
# A merge moves every row a resident owns, in every app: each foreign key to Resident is found through
# Django's model meta (`resident_links`), so a model added later is moved without being listed here.
# Left out on purpose (`NOT_MOVED`): the merge mechanism itself, identity reviews and merge history
# (they name both people), break-glass records (audit history is never rewritten) and the indicator
# facts (derived, rebuilt from the rows that were moved).
#
# Conflicts, where moving a row would break a rule the survivor's own rows already fill:
# * an open (pending or active) signing on both: the merge is refused; a person has one family
#   doctor contract, so someone must end one of them first;
# * any other "one per resident" rule (yearly assessment, elderly care year, yearly report, active
#   enrolment per programme, survey response, article read, point account): the survivor's row wins and
#   the duplicate's row stays with the duplicate, listed in the merge's audit entry as kept;
# * an authorisation between the two people would authorise someone for themself: it stays as well;
# * points: the ledger entries move; when the duplicate's point account stays (the survivor has one),
#   the moved entries' sum moves from its balance to the survivor's, so every balance still equals the
#   sum of its ledger entries, and unmerging moves the same sum back;
# * household: a survivor without a household joins the duplicate's, with its relationship.

NOT_MOVED = frozenset(
    {
        ("registry.resident", "merged_into"),
        ("records.residentmerge", "survivor"),
        ("records.residentmerge", "duplicate"),
        ("records.matchreview", "provisional"),
        ("records.matchreview", "candidate"),
        ("audit.breakglass", "resident"),
        ("indicators.residentfact", "resident"),
    }
)
REFUSED_CONFLICTS = frozenset({"signing_one_open_per_resident"})
HOUSEHOLD = "resident.household"


@dataclass(frozen=True, slots=True)
class ResidentLink:
    """One foreign key to Resident: the model, the field, and the rules making it one per resident."""

    model: type[Model]
    field: str
    unique: tuple[tuple[str, tuple[str, ...], Q | None], ...]

    @property
    def name(self) -> str:
        return self.model._meta.model_name or ""


def resident_links() -> list[ResidentLink]:
    """Every foreign key (and one-to-one) to Resident in the project, except those never moved."""
    found: list[ResidentLink] = []
    for model in apps.get_models(include_auto_created=False):
        for field in model._meta.concrete_fields:
            if not field.is_relation or field.related_model is not Resident:
                continue
            if (model._meta.label_lower, field.name) in NOT_MOVED:
                continue
            unique: list[tuple[str, tuple[str, ...], Q | None]] = []
            if field.unique:
                unique.append((f"{model._meta.label_lower}.{field.name}", (), None))
            for constraint in model._meta.constraints:
                fields = tuple(getattr(constraint, "fields", ()) or ())
                if isinstance(constraint, UniqueConstraint) and field.name in fields:
                    others = tuple(f for f in fields if f != field.name)
                    unique.append((constraint.name, others, constraint.condition))  # type: ignore[arg-type]
            for together in model._meta.unique_together:
                if field.name in together:
                    others = tuple(f for f in together if f != field.name)
                    unique.append((f"{model._meta.db_table}_{'_'.join(together)}", others, None))
            found.append(ResidentLink(model, field.name, tuple(unique)))
    return found


def _link_for(name: str, field: str) -> ResidentLink:
    for link in resident_links():
        if link.name == name and link.field == field:
            return link
    raise MergeError(f"the merge lists {name}.{field}, which no longer refers to a resident")


def _conflicts(link: ResidentLink, survivor: int, duplicate: int) -> tuple[dict[int, str], str]:
    """The duplicate's rows of this link that cannot move (by pk, with the rule's name), and the name
    of a rule that refuses the whole merge ("" when none does)."""
    manager = link.model._default_manager
    kept: dict[int, str] = {}
    for name, others, condition in link.unique:
        theirs = manager.filter(**{link.field: duplicate})
        ours = manager.filter(**{link.field: survivor})
        if condition is not None:
            theirs, ours = theirs.filter(condition), ours.filter(condition)
        taken = {tuple(row) for row in ours.values_list("pk", *others)} if others else set()
        if not others:
            clash = list(theirs.values_list("pk", flat=True)) if ours.exists() else []
        else:
            keys = {row[1:] for row in taken}
            clash = [row[0] for row in theirs.values_list("pk", *others) if tuple(row[1:]) in keys]
        if clash and name in REFUSED_CONFLICTS:
            return {}, name
        kept.update(dict.fromkeys(clash, name))
    if link.model._meta.label_lower == "records.accountauthorisation":
        # An authorisation between the two people would become one for the person themself.
        other = "member" if link.field == "resident" else "resident"
        self_rows = link.model._default_manager.filter(**{link.field: duplicate, other: survivor})
        kept.update(dict.fromkeys(self_rows.values_list("pk", flat=True), "authorisation_of_oneself"))
    return kept, ""


def _moved_entry(link: ResidentLink, pk: int) -> list[Any]:
    # Rows moved by their `resident` field keep the short [model, id] form merges have always listed.
    return [link.name, pk] if link.field == "resident" else [link.name, pk, link.field]


def merge_residents(
    actor: Any,
    survivor: Resident,
    duplicate: Resident,
    *,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> ResidentMerge:
    """Move every row `duplicate` owns, in every app, to `survivor` and mark the duplicate merged.
    The merge lists what it moved; each moved row is audited, and so are the rows kept back."""
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
        links = resident_links()
        plans: list[tuple[ResidentLink, list[int]]] = []
        kept: list[list[Any]] = []
        for link in links:
            clashing, refused = _conflicts(link, survivor.pk, duplicate.pk)
            if refused:
                raise MergeError(
                    f"both residents have an open {link.model._meta.verbose_name} ({refused}); "
                    "end one of them before merging"
                )
            ids = list(
                link.model._default_manager.filter(**{link.field: duplicate.pk})
                .exclude(pk__in=list(clashing))
                .values_list("pk", flat=True)
            )
            plans.append((link, ids))
            kept.extend([link.name, pk, link.field, rule] for pk, rule in sorted(clashing.items()))
        moved: list[list[Any]] = []
        for link, ids in plans:
            if ids:
                link.model._default_manager.filter(pk__in=ids).update(**{link.field: survivor.pk})
                moved.extend(_moved_entry(link, pk) for pk in ids)
        _shift_points(moved, kept, source=duplicate.pk, target=survivor.pk)
        joining = locked[survivor.pk].household_id is None and locked[duplicate.pk].household_id is not None
        if joining:
            household_id = locked[duplicate.pk].household_id
            moved.append([HOUSEHOLD, survivor.pk, locked[survivor.pk].relationship, household_id])
            _save_resident(
                survivor.pk,
                household_id=locked[duplicate.pk].household_id,
                relationship=locked[duplicate.pk].relationship,
            )
        else:
            _save_resident(survivor.pk)
        _save_resident(duplicate.pk, merged_into_id=survivor.pk)
        merge = ResidentMerge.objects.create(
            survivor=survivor,
            duplicate=duplicate,
            moved=moved,
            merged_at=now,
            merged_by=_user(actor, request),
        )
        _audit_moves(
            actor,
            request,
            merge,
            moved,
            to_resident=survivor.pk,
            from_resident=duplicate.pk,
            undo=False,
            kept=kept,
        )
    duplicate.merged_into_id = survivor.pk
    return merge


def _shift_points(moved: list[list[Any]], kept: list[list[Any]], *, source: int, target: int) -> None:
    """Keep each point balance equal to its ledger after ledger entries moved from `source` to
    `target`: when the source's account did not move with them, their sum moves between balances."""
    entries = [entry[1] for entry in moved if entry[0] == "pointentry" and len(entry) == 2]
    if not entries or not any(entry[0] == "pointaccount" for entry in kept):
        return
    entry_model = _link_for("pointentry", "resident").model
    account_model = _link_for("pointaccount", "resident").model
    total = entry_model._default_manager.filter(pk__in=entries).aggregate(total=Sum("points"))["total"] or 0
    account_model._default_manager.filter(resident_id=source).update(balance=F("balance") - total)
    account_model._default_manager.filter(resident_id=target).update(balance=F("balance") + total)


def unmerge(
    actor: Any, merge: ResidentMerge, *, request: HttpRequest | None = None, now: datetime | None = None
) -> ResidentMerge:
    """Undo a merge: move back exactly the rows it moved and make the duplicate a resident again."""
    now = now or timezone.now()
    with transaction.atomic():
        merge = ResidentMerge.objects.select_for_update().get(pk=merge.pk)
        if merge.undone_at is not None:
            raise MergeError(f"merge #{merge.pk} was already undone")
        by_link: dict[tuple[str, str], list[int]] = defaultdict(list)
        household: list[Any] | None = None
        for entry in merge.moved:
            if entry[0] == HOUSEHOLD:
                household = entry
                continue
            by_link[(entry[0], entry[2] if len(entry) > 2 else "resident")].append(entry[1])
        kept_accounts = [
            ["pointaccount", pk, "resident", "kept"]
            for pk in _link_for("pointaccount", "resident")
            .model._default_manager.filter(resident_id=merge.duplicate_id)
            .values_list("pk", flat=True)
        ]
        for (name, field), ids in by_link.items():
            link = _link_for(name, field)
            link.model._default_manager.filter(pk__in=ids, **{field: merge.survivor_id}).update(
                **{field: merge.duplicate_id}
            )
        _shift_points(
            [e for e in merge.moved if e[0] == "pointentry"],
            kept_accounts,
            source=merge.survivor_id,
            target=merge.duplicate_id,
        )
        if household is not None:
            # Only if the survivor is still in the household the merge had it join.
            if Resident.objects.filter(pk=merge.survivor_id, household_id=household[3]).exists():
                _save_resident(merge.survivor_id, household_id=None, relationship=household[2])
            else:
                _save_resident(merge.survivor_id)
        else:
            _save_resident(merge.survivor_id)
        _save_resident(merge.duplicate_id, merged_into_id=None)
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


def _save_resident(pk: int, **changes: Any) -> None:
    """Save through the model, not a bulk update: what keeps derived figures current (the indicator
    facts) hears of both residents of a merge, whose rows were moved without saves."""
    resident = Resident.objects.get(pk=pk)
    for name, value in changes.items():
        setattr(resident, name, value)
    resident.save(update_fields=[*changes, "updated_at"])


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
    kept: list[list[Any]] | None = None,
) -> None:
    what = "unmerge" if undo else "merge"
    detail: dict[str, Any] = {
        "what": what,
        "survivor": merge.survivor_id,
        "duplicate": merge.duplicate_id,
        "moved": len(moved),
    }
    if kept:
        detail["kept"] = kept
    events = [
        Event(Action.UPDATE, "resident_merge", merge.pk, resident_id=resident, detail=detail)
        for resident in (to_resident, from_resident)
    ]
    for entry in moved:
        if entry[0] == HOUSEHOLD:
            name, pk, fields = "resident", entry[1], ["household", "relationship"]
        else:
            name, pk, fields = entry[0], entry[1], [entry[2] if len(entry) > 2 else "resident"]
        events.append(
            Event(
                Action.UPDATE,
                name,
                pk,
                resident_id=to_resident,
                detail={what: merge.pk, "from_resident": from_resident, "fields": fields},
            )
        )
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
