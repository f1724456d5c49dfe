"""Health-account state changes: importing FHIR R4 bundles and bulk CSV feeds.

A batch bundle keeps every good entry and reports each bad one (index, resource type, identifier,
element, reason); each entry runs in its own savepoint so a failure leaves nothing of it behind. A
transaction bundle is all or nothing: one `transaction.atomic`, rolled back when any entry fails, with
every failing entry still named. Entries are idempotent on (source system, identifier): sending the same
bundle twice stores and audits nothing the second time.

Patients are matched to registry residents by citizen ID, health-record number or alternative
identifier; an unknown patient is registered through the registry's own service only when it names its
residential committee. Registry data of known residents is never changed by a feed: the registry owns it.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from operator import attrgetter
from typing import Any, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import Event, record, record_many
from jiayi.records import bulk, fhir_in, linkage, matching
from jiayi.records import fhir_systems as systems
from jiayi.records.fhir_in import (
    ConditionIn,
    EncounterIn,
    EntryError,
    MedicationIn,
    ObservationIn,
    OrganizationIn,
    ParsedEntry,
    ParsedEntryError,
    PatientIn,
    PractitionerIn,
    Ref,
)
from jiayi.records.matching import Person
from jiayi.records.models import (
    ClinicalEntry,
    Condition,
    ElderlyExam,
    Encounter,
    Medication,
    Observation,
    PatientLink,
)
from jiayi.records.signals import entries_written
from jiayi.registry import identity
from jiayi.registry import services as registry
from jiayi.registry.models import Institution, Place, Resident, Staff
from jiayi.synth.writer import insert_rows

E = TypeVar("E", bound=ClinicalEntry)

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
MATCHED = "matched"  # a Patient, Organization or Practitioner found in the registry
ERROR = "error"
NOT_APPLIED = "not_applied"  # a good entry of a transaction rolled back because another failed
SOURCE_SYSTEM_MAX_LENGTH = 64
# Entries of one type looked up and written together: a bundle of 1,000 readings is one chunk.
CHUNK_ENTRIES = 1_000


@dataclass(slots=True)
class EntryOutcome:
    """What happened to one entry. `index` is the entry's position in Bundle.entry (None for a problem
    with the bundle itself)."""

    index: int | None
    resource_type: str
    identifier: str
    status: str
    field: str = ""
    reason: str = ""


@dataclass(slots=True)
class BundleOutcome:
    bundle_type: str
    committed: bool
    entries: list[EntryOutcome] = field(default_factory=list)

    @property
    def errors(self) -> list[EntryOutcome]:
        return [entry for entry in self.entries if entry.status == ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        return dict(Counter(entry.status for entry in self.entries))


class _Failed:
    """Stands in the reference map for an entry that failed, so what points to it says so."""

    def __init__(self, index: int) -> None:
        self.index = index


def _bundle_error(reason: str, bundle_type: str = "") -> BundleOutcome:
    return BundleOutcome(
        bundle_type=bundle_type,
        committed=False,
        entries=[EntryOutcome(None, "Bundle", "", ERROR, "Bundle", reason)],
    )


def default_institution_of(actor: Any) -> Institution | None:
    """The institution an importing user acts for: entries that name none are attributed to it."""
    account = access.account_of(actor)
    if account is None:
        return None
    if account.institution is not None:
        return account.institution
    return account.staff.institution if account.staff is not None else None


def import_bundle(
    bundle_json: dict[str, Any] | str | bytes,
    *,
    actor: Any,
    source_system: str,
    request: HttpRequest | None = None,
    residents: QuerySet[Resident] | None = None,
    committees: QuerySet[Place] | None = None,
    institution: Institution | None = None,
    now: datetime | None = None,
) -> BundleOutcome:
    """Import a FHIR R4 batch or transaction Bundle.

    `residents` limits whose records may be written (the API passes the user's editable residents; a
    resident outside it answers like one that does not exist) and `committees` where new residents may
    be registered; None means no limit, for trusted callers such as a command run by an operator.
    `institution` is the producer of entries that name none (default: the actor's institution).
    """
    outcome = _import_bundle(
        bundle_json,
        actor=actor,
        source_system=source_system,
        request=request,
        residents=residents,
        committees=committees,
        institution=institution,
        now=now,
    )
    if not outcome.ok:
        # Stored entries were audited one by one; refused ones (a resident out of scope among them)
        # leave one entry for the bundle, written after any rollback so that it stays.
        failed = outcome.errors
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="fhir_bundle",
            outcome=Outcome.INVALID,
            detail={
                "source_system": source_system[:SOURCE_SYSTEM_MAX_LENGTH],
                "bundle_type": outcome.bundle_type,
                "committed": outcome.committed,
                "failed": len(failed),
                "entries": [[e.index, e.resource_type, e.field] for e in failed[:100]],
            },
        )
    return outcome


def _import_bundle(
    bundle_json: dict[str, Any] | str | bytes,
    *,
    actor: Any,
    source_system: str,
    request: HttpRequest | None = None,
    residents: QuerySet[Resident] | None = None,
    committees: QuerySet[Place] | None = None,
    institution: Institution | None = None,
    now: datetime | None = None,
) -> BundleOutcome:
    source_system = source_system.strip()
    if not source_system or len(source_system) > SOURCE_SYSTEM_MAX_LENGTH:
        return _bundle_error(f"the source system must have 1–{SOURCE_SYSTEM_MAX_LENGTH} characters")
    try:
        bundle = fhir_in.load_json(bundle_json)
        bundle_type, entries = fhir_in.check_bundle(bundle)
    except ValueError as exc:
        return _bundle_error(str(exc))
    importer = _Importer(
        actor=actor,
        source_system=source_system,
        bundle_type=bundle_type,
        request=request,
        residents=residents,
        committees=committees,
        institution=institution if institution is not None else default_institution_of(actor),
        now=now or timezone.now(),
    )
    if bundle_type == "transaction":
        with transaction.atomic():
            outcomes = importer.run(entries)
            failed = [o for o in outcomes if o.status == ERROR]
            if failed:
                transaction.set_rollback(True)
        if failed:
            named = ", ".join(str(o.index) for o in failed[:10]) + (", …" if len(failed) > 10 else "")
            which = f"entry {named}" if len(failed) == 1 else f"entries {named}"
            for outcome in outcomes:
                if outcome.status != ERROR:
                    outcome.status = NOT_APPLIED
                    outcome.reason = f"the transaction was rolled back because {which} failed"
            return BundleOutcome(bundle_type, committed=False, entries=outcomes)
        return BundleOutcome(bundle_type, committed=True, entries=outcomes)
    outcomes = importer.run(entries)
    return BundleOutcome(bundle_type, committed=True, entries=outcomes)


class _Importer:
    """The state of one bundle's import: what each entry of the bundle became, and lookup caches."""

    def __init__(
        self,
        *,
        actor: Any,
        source_system: str,
        bundle_type: str,
        request: HttpRequest | None,
        residents: QuerySet[Resident] | None,
        committees: QuerySet[Place] | None,
        institution: Institution | None,
        now: datetime,
    ) -> None:
        self.actor = actor
        self.source_system = source_system
        self.bundle_type = bundle_type
        self.request = request
        self.residents = residents
        self.committees = committees
        self.default_institution = institution
        self.now = now
        self.local: dict[str, object] = {}
        self.in_scope: dict[int, bool] = {}
        self.institutions: dict[str, Institution | None] = {}
        self.staff: dict[str, Staff | None] = {}
        self.resident_ids: dict[tuple[str, str], int | None] = {}
        self.resident_cache: dict[int, Resident] = {}
        self.encounters: dict[str, Encounter | None] = {}
        # Stored entries by (model, source id), None for "not stored": filled a chunk at a time.
        self.stored: dict[tuple[type[ClinicalEntry], str], ClinicalEntry | None] = {}
        self.stage = _Stage()

    # Driving ------------------------------------------------------------------------------------------

    def run(self, entries: list[Any]) -> list[EntryOutcome]:
        """Read every entry, then apply them type by type (what others point to first), a chunk at a
        time: look up in bulk what the chunk refers to, check each entry (a refused one stages nothing),
        then write the chunk's good entries and their audit entries with bulk statements."""
        outcomes: dict[int, EntryOutcome] = {}
        groups: dict[str, list[ParsedEntry]] = {name: [] for name in fhir_in.ACCEPTED_TYPES}
        for index, entry in enumerate(entries):
            try:
                parsed = fhir_in.parse_entry(index, entry, self.now)
            except ParsedEntryError as exc:
                self._fail(exc.parsed)
                outcomes[index] = self._outcome(exc.parsed, ERROR, exc.error)
            else:
                groups[parsed.resource_type].append(parsed)
        for resource_type in fhir_in.ACCEPTED_TYPES:
            group = groups[resource_type]
            for start in range(0, len(group), CHUNK_ENTRIES):
                chunk = group[start : start + CHUNK_ENTRIES]
                self._prefetch(chunk)
                if resource_type == "Patient":
                    # Registering a resident goes through the registry's own service, one at a time.
                    self._run_each(chunk, outcomes)
                else:
                    self._run_chunk(chunk, outcomes)
        return [outcomes[index] for index in sorted(outcomes)]

    def _run_chunk(self, chunk: list[ParsedEntry], outcomes: dict[int, EntryOutcome]) -> None:
        done: list[tuple[ParsedEntry, str, object]] = []
        self.stage = _Stage()
        for entry in chunk:
            try:
                status, obj = self._apply(entry)
            except EntryError as exc:
                self.stage.discard()
                self._fail(entry)
                outcomes[entry.index] = self._outcome(entry, ERROR, exc)
            else:
                self.stage.keep()
                done.append((entry, status, obj))
        try:
            with transaction.atomic():
                self._write(self.stage)
        except IntegrityError:
            # Another import stored one of these identifiers since the chunk looked them up: redo the
            # chunk entry by entry, each in its own savepoint, against what is stored now.
            self._forget([entry for entry, _, _ in done])
            self._run_each([entry for entry, _, _ in done], outcomes)
            return
        for entry, status, obj in done:
            for key in entry.keys:
                self.local[key] = obj
            outcomes[entry.index] = self._outcome(entry, status)

    def _run_each(self, entries: list[ParsedEntry], outcomes: dict[int, EntryOutcome]) -> None:
        for entry in entries:
            for attempt in range(2):
                self.stage = _Stage()
                try:
                    with transaction.atomic():
                        status, obj = self._apply(entry)
                        self.stage.keep()
                        self._write(self.stage)
                except EntryError as exc:
                    self._fail(entry)
                    outcomes[entry.index] = self._outcome(entry, ERROR, exc)
                except IntegrityError:
                    # Lost a race for the same identifier: the stored row wins, and this entry becomes
                    # an update of it on the second attempt.
                    self._forget([entry])
                    if attempt == 0:
                        continue
                    self._fail(entry)
                    error = EntryError(
                        f"{entry.resource_type}.identifier", "the database refused to store it"
                    )
                    outcomes[entry.index] = self._outcome(entry, ERROR, error)
                else:
                    for key in entry.keys:
                        self.local[key] = obj
                    outcomes[entry.index] = self._outcome(entry, status)
                break

    def _write(self, stage: _Stage) -> None:
        """Insert, update and audit what the stage holds; pks are set on the new objects."""
        by_model: dict[type[ClinicalEntry], list[ClinicalEntry]] = {}
        for obj in stage.creates:
            by_model.setdefault(type(obj), []).append(obj)
        for model, new in by_model.items():
            _insert_new(model, new)
            # The fast insert returns no ids; the unique (source system, identifier) finds them.
            ids = dict(
                model._default_manager.filter(
                    source_system=self.source_system, source_id__in=[obj.source_id for obj in new]
                ).values_list("source_id", "pk")
            )
            for obj in new:
                obj.pk = ids[obj.source_id]
                obj._state.adding = False
                obj._state.db = connection.alias
        changed: dict[type[ClinicalEntry], tuple[dict[int, ClinicalEntry], set[str]]] = {}
        for obj, names in stage.updates.values():
            if obj.pk is None:
                continue  # created in this stage: inserted with its latest values
            rows, fields = changed.setdefault(type(obj), ({}, set()))
            rows[obj.pk] = obj
            fields.update(names)
        for model, (rows, fields) in changed.items():
            model._default_manager.bulk_update(
                list(rows.values()), [*sorted(fields), "received_at"], batch_size=500
            )
        # The bulk statements send no post_save; what must react to stored entries hears of each chunk.
        for created in (True, False):
            written: dict[type[ClinicalEntry], dict[int, ClinicalEntry]] = {}
            for action, obj, _ in stage.events:
                if (action == Action.CREATE) is created:
                    written.setdefault(type(obj), {})[id(obj)] = obj
            for model, objs in written.items():
                if entries_written.has_listeners(model):
                    entries_written.send(sender=model, instances=list(objs.values()), created=created)
        record_many(
            [
                Event(
                    action=action,
                    resource_type=obj._meta.model_name or "",
                    resource_id=obj.pk,
                    resident_id=obj.resident_id,
                    detail={
                        "via": f"fhir {self.bundle_type}",
                        "source_system": self.source_system,
                        "source_id": obj.source_id,
                        "fields": fields,
                    },
                )
                for action, obj, fields in stage.events
            ],
            request=self.request,
            actor=self.actor,
        )

    def _forget(self, entries: list[ParsedEntry]) -> None:
        """Drop what the cache knows of these entries' stored rows, so they are looked up again."""
        for model, source_id in self._stored_keys(entries):
            self.stored.pop((model, source_id), None)

    # Bulk look-ups --------------------------------------------------------------------------------------

    def _stored_keys(self, entries: list[ParsedEntry]) -> list[tuple[type[ClinicalEntry], str]]:
        keys: list[tuple[type[ClinicalEntry], str]] = []
        for entry in entries:
            data = entry.data
            if isinstance(data, ObservationIn):
                keys.extend(
                    (Observation, f"{entry.source_id}#{v.code}" if data.is_panel else entry.source_id)
                    for v in data.values
                )
            elif isinstance(data, EncounterIn):
                keys.append((Encounter, entry.source_id))
            elif isinstance(data, ConditionIn):
                keys.append((Condition, entry.source_id))
            elif isinstance(data, MedicationIn):
                keys.append((Medication, entry.source_id))
        return keys

    def _prefetch(self, chunk: list[ParsedEntry]) -> None:
        """Look up in a few queries what a chunk's entries name: residents (and whether the importer may
        write for them), institutions, staff, referenced encounters and the entries already stored."""
        refs: list[Ref] = []
        patient_keys: list[tuple[str, str]] = []
        institution_codes: set[str] = set()
        staff_codes: set[str] = set()
        for entry in chunk:
            data = entry.data
            if isinstance(data, OrganizationIn):
                institution_codes.update(data.codes)
            elif isinstance(data, PractitionerIn):
                staff_codes.update(data.codes)
            elif isinstance(data, PatientIn):
                patient_keys.extend(_patient_lookups(data))
            for name in ("subject", "encounter", "performer", "provider", "practitioner"):
                ref = getattr(data, name, None)
                if isinstance(ref, Ref) and not isinstance(self.local.get(ref.reference), Model):
                    refs.append(ref)
        encounter_ids: set[str] = set()
        for ref in refs:
            if ref.identifier is not None:
                system, value = ref.identifier
                if system == systems.INSTITUTION_SYSTEM:
                    institution_codes.add(value)
                elif system == systems.STAFF_SYSTEM:
                    staff_codes.add(value)
                elif ref.field.endswith(".encounter") or ref.field.endswith(".context"):
                    encounter_ids.add(f"{system}|{value}" if system else value)
                else:
                    patient_keys.append((system, value))
            elif ref.reference.startswith("Encounter/"):
                encounter_ids.add(ref.reference.removeprefix("Encounter/"))
        self._load_residents(patient_keys)
        self._load_codes(institution_codes, staff_codes)
        wanted = encounter_ids - self.encounters.keys()
        if wanted:
            found = {
                e.source_id: e
                for e in Encounter.objects.filter(source_system=self.source_system, source_id__in=wanted)
            }
            self.encounters.update({source_id: found.get(source_id) for source_id in wanted})
        by_model: dict[type[ClinicalEntry], set[str]] = {}
        for model, source_id in self._stored_keys(chunk):
            if (model, source_id) not in self.stored:
                by_model.setdefault(model, set()).add(source_id)
        for model, source_ids in by_model.items():
            rows = model._default_manager.filter(source_system=self.source_system, source_id__in=source_ids)
            found_rows = {row.source_id: row for row in rows}
            for source_id in source_ids:
                self.stored[(model, source_id)] = found_rows.get(source_id)

    def _load_residents(self, keys: list[tuple[str, str]]) -> None:
        wanted = {key for key in keys if key not in self.resident_ids}
        if wanted:
            alt_kinds = {uri: kind for kind, uri in systems.ALT_ID_SYSTEMS.items()}
            citizen = {
                v: identity.normalise_citizen_id(v) for s, v in wanted if s == systems.CITIZEN_ID_SYSTEM
            }
            numbers = {v for s, v in wanted if s == systems.HEALTH_RECORD_SYSTEM}
            alts = {(alt_kinds[s], v.upper()) for s, v in wanted if s in alt_kinds}
            found: list[Resident] = []
            # Only what matching needs: a feed of readings loads a thousand residents per chunk.
            loaded = Resident.objects.only(
                "id", "citizen_id", "health_record_number", "alt_id_type", "alt_id_number", "merged_into_id"
            )
            if citizen:
                found += loaded.filter(citizen_id__in=set(citizen.values()))
            if numbers:
                found += loaded.filter(health_record_number__in=numbers)
            for kind in {kind for kind, _ in alts}:
                numbers_of_kind = {number for k, number in alts if k == kind}
                found += loaded.filter(alt_id_type=kind, alt_id_number__in=numbers_of_kind)
            by_citizen = {r.citizen_id: r for r in found if r.citizen_id}
            by_number = {r.health_record_number: r for r in found if r.health_record_number}
            by_alt = {(r.alt_id_type, r.alt_id_number): r for r in found if r.alt_id_number}
            linked = {
                (system, value): resident_id
                for system, value, resident_id in PatientLink.objects.filter(
                    value__in={value for _, value in wanted}
                ).values_list("system", "value", "resident_id")
            }
            for system, value in wanted:
                resident: Resident | None = None
                if system == systems.CITIZEN_ID_SYSTEM:
                    resident = by_citizen.get(citizen[value])
                elif system == systems.HEALTH_RECORD_SYSTEM:
                    resident = by_number.get(value)
                elif system in alt_kinds:
                    resident = by_alt.get((alt_kinds[system], value.upper()))
                if resident is None and (system, value) in linked:
                    resident = loaded.filter(pk=linked[(system, value)]).first()
                if resident is not None and resident.merged_into_id is not None:
                    # A merged-away duplicate: its records live on the resident it was merged into.
                    resident = loaded.filter(pk=linkage.follow_merges(resident.pk)).first()
                self.resident_ids[(system, value)] = resident.pk if resident is not None else None
                if resident is not None:
                    self.resident_cache.setdefault(resident.pk, resident)
        if self.residents is not None:
            unknown = {pk for pk in self.resident_cache if pk not in self.in_scope}
            if unknown:
                allowed = set(self.residents.filter(pk__in=unknown).values_list("pk", flat=True))
                allowed |= self._own_provisional(unknown - allowed)
                self.in_scope.update({pk: pk in allowed for pk in unknown})

    def _load_codes(self, institution_codes: set[str], staff_codes: set[str]) -> None:
        wanted = institution_codes - self.institutions.keys()
        if wanted:
            found = {i.code: i for i in Institution.objects.filter(code__in=wanted)}
            self.institutions.update({code: found.get(code) for code in wanted})
        wanted = staff_codes - self.staff.keys()
        if wanted:
            staff = {m.code: m for m in Staff.objects.select_related("institution").filter(code__in=wanted)}
            self.staff.update({code: staff.get(code) for code in wanted})

    def _fail(self, entry: ParsedEntry) -> None:
        for key in entry.keys:
            self.local[key] = _Failed(entry.index)

    def _outcome(self, entry: ParsedEntry, status: str, error: EntryError | None = None) -> EntryOutcome:
        identifier = entry.source_id
        if isinstance(entry.data, PatientIn):
            identifier = (
                identity.mask_citizen_id(entry.data.citizen_id) or entry.data.health_record_number or ""
            )
        elif entry.resource_type == "Patient":
            identifier = entry.full_url
        return EntryOutcome(
            index=entry.index,
            resource_type=entry.resource_type,
            identifier=identifier or entry.full_url,
            status=status,
            field=error.field if error else "",
            reason=error.reason if error else "",
        )

    def _apply(self, entry: ParsedEntry) -> tuple[str, object]:
        data = entry.data
        if isinstance(data, fhir_in.DistrictIn):
            from jiayi.records import fhir_district_in  # builds on this module

            return fhir_district_in.apply(self, entry, data)
        if isinstance(data, OrganizationIn):
            return MATCHED, self._institution_by_code(data.codes, "Organization.identifier")
        if isinstance(data, PractitionerIn):
            return MATCHED, self._staff_by_code(data.codes, "Practitioner.identifier")
        if isinstance(data, PatientIn):
            return self._patient_entry(data)
        if isinstance(data, EncounterIn):
            return self._encounter(entry, data)
        if isinstance(data, ConditionIn):
            return self._condition(entry, data)
        if isinstance(data, ObservationIn):
            return self._observation(entry, data)
        if isinstance(data, MedicationIn):
            return self._medication(entry, data)
        raise EntryError(entry.resource_type, "nothing to import")  # pragma: no cover - parse_entry sets data

    # Resolving references -----------------------------------------------------------------------------

    def _local_target(self, ref: Ref, expected: str) -> object | None:
        target = self.local.get(ref.reference) if ref.reference else None
        if isinstance(target, _Failed):
            raise EntryError(ref.field, f"it refers to entry {target.index}, which failed")
        if target is not None and expected and not _is_a(target, expected):
            raise EntryError(ref.field, f"{ref.reference} is not a {expected}")
        return target

    def _institution_by_code(self, codes: Iterable[str], path: str) -> Institution:
        for code in codes:
            if code not in self.institutions:
                self.institutions[code] = Institution.objects.filter(code=code).first()
            found = self.institutions[code]
            if found is not None:
                return found
        raise EntryError(path, f"no institution with code {', '.join(codes)}")

    def _staff_by_code(self, codes: Iterable[str], path: str) -> Staff:
        for code in codes:
            if code not in self.staff:
                self.staff[code] = Staff.objects.select_related("institution").filter(code=code).first()
            found = self.staff[code]
            if found is not None:
                return found
        raise EntryError(path, f"no staff member with code {', '.join(codes)}")

    def _producer(self, ref: Ref | None) -> Institution | Staff | None:
        """The Organization or Practitioner a reference names, or None without a reference."""
        if ref is None:
            return None
        target = self._local_target(ref, "")
        if isinstance(target, Resident) or ref.target_type == "Patient":
            # A self-measurement's performer is the patient: it says nothing of an institution.
            return None
        if isinstance(target, Institution | Staff):
            return target
        if target is not None:
            raise EntryError(ref.field, f"{ref.reference} is not an Organization or Practitioner")
        if ref.identifier is not None:
            system, value = ref.identifier
            if system == systems.INSTITUTION_SYSTEM:
                return self._institution_by_code([value], ref.field)
            if system == systems.STAFF_SYSTEM:
                return self._staff_by_code([value], ref.field)
        raise EntryError(ref.field, f"{ref.describe()} is not an Organization or Practitioner of this bundle")

    def _institution(
        self, path: str, producer: Institution | Staff | None, encounter: Encounter | None
    ) -> int:
        """The id of the institution that produced an entry."""
        if isinstance(producer, Institution):
            return producer.pk
        if isinstance(producer, Staff):
            return producer.institution_id
        if encounter is not None:
            return encounter.institution_id
        if self.default_institution is not None:
            return self.default_institution.pk
        raise EntryError(
            path, "the institution that produced this entry is unknown: reference an Organization"
        )

    def _may_write(self, resident: Resident) -> bool:
        if self.residents is None:
            return True
        if resident.pk not in self.in_scope:
            self.in_scope[resident.pk] = self.residents.filter(pk=resident.pk).exists() or bool(
                self._own_provisional({resident.pk})
            )
        return self.in_scope[resident.pk]

    def _own_provisional(self, ids: set[int]) -> set[int]:
        """Provisional persons without a committee that this source system's records created: no one's
        scope holds them until they are registered or merged, yet the sender's later records about the
        same person belong with them."""
        return set(
            Resident.objects.filter(
                pk__in=ids,
                provisional=True,
                committee__isnull=True,
                merged_into__isnull=True,
                patient_links__source_system=self.source_system,
            ).values_list("pk", flat=True)
        )

    def _resident_by_identifier(self, system: str, value: str) -> Resident | None:
        key = (system, value)
        if key not in self.resident_ids:
            self._load_residents([key])
        pk = self.resident_ids[key]
        return self.resident_cache[pk] if pk is not None else None

    def _patient(self, ref: Ref | None, resource_type: str) -> Resident:
        if ref is None:
            raise EntryError(f"{resource_type}.subject", "a reference to the patient is required")
        target = self._local_target(ref, "Patient")
        resident: Resident | None = None
        if isinstance(target, Resident):
            resident = target
        elif ref.identifier is not None:
            resident = self._resident_by_identifier(*ref.identifier)
        # A resident the importer may not write for answers exactly like one that does not exist.
        if resident is None or not self._may_write(resident):
            raise EntryError(ref.field, f"no patient found for {ref.describe()}")
        return resident

    def _encounter_ref(self, ref: Ref | None, resident: Resident) -> Encounter | None:
        if ref is None:
            return None
        target = self._local_target(ref, "Encounter")
        encounter: Encounter | None = None
        if isinstance(target, Encounter):
            encounter = target
        elif ref.identifier is not None:
            system, value = ref.identifier
            encounter = self._stored_encounter(f"{system}|{value}" if system else value)
        elif ref.reference.startswith("Encounter/"):
            # An encounter sent earlier without an identifier is stored under its logical id.
            encounter = self._stored_encounter(ref.reference.removeprefix("Encounter/"))
        if encounter is None or encounter.resident_id != resident.pk:
            raise EntryError(ref.field, f"no encounter of this patient found for {ref.describe()}")
        return encounter

    def _stored_encounter(self, source_id: str) -> Encounter | None:
        if source_id not in self.encounters:
            self.encounters[source_id] = Encounter.objects.filter(
                source_system=self.source_system, source_id=source_id
            ).first()
        return self.encounters[source_id]

    # Patients -----------------------------------------------------------------------------------------

    def _patient_entry(self, data: PatientIn) -> tuple[str, Resident]:
        lookups = _patient_lookups(data)
        for system, value in lookups:
            resident = self._resident_by_identifier(system, value)
            if resident is None:
                continue
            if not self._may_write(resident):
                break
            return MATCHED, resident
        else:
            if data.citizen_id is None:
                status, found = self._match(data, lookups)
            else:
                status, found = CREATED, self._register(data)
            # The lookups above remembered "nobody"; later entries naming these identifiers mean them.
            for key in lookups:
                self.resident_ids[key] = found.pk
            self.resident_cache[found.pk] = found
            self.in_scope[found.pk] = True
            return status, found
        raise EntryError("Patient.identifier", "no resident you may record for has this identifier")

    def _match(self, data: PatientIn, lookups: list[tuple[str, str]]) -> tuple[str, Resident]:
        """A patient without a citizen ID whose identifiers are unknown: linked to the resident it
        matches with certainty, else kept as a provisional person, queued for review when some resident
        resembles it (thresholds in records.matching)."""
        required = (("Patient.name", bool(data.name)), ("Patient.birthDate", data.birth_date is not None))
        for path, present in required:
            if not present:
                raise EntryError(
                    path, "a patient without a citizen ID is matched on name, birth date, sex and phone"
                )
        assert data.birth_date is not None
        person = Person(data.name, data.birth_date, data.sex, data.phone)
        scope = self.residents if self.residents is not None else Resident.objects.all()
        found = linkage.best_candidate(person, scope)
        decision = found[1].decision if found is not None else matching.PROVISIONAL
        if found is not None and decision == matching.LINK:
            resident = Resident.objects.get(pk=found[0])
            linkage.link_identifiers(
                resident, lookups, source_system=self.source_system, score=found[1].total, now=self.now
            )
            record(
                request=self.request,
                actor=self.actor,
                action=Action.UPDATE,
                resource_type="patient_link",
                resource_id=resident.pk,
                resident_id=resident.pk,
                detail={
                    "score": found[1].total,
                    "source_system": self.source_system,
                    "systems": [system for system, _ in lookups],
                },
            )
            return MATCHED, resident
        committee: Place | None = None
        if data.committee_code:
            allowed = self.committees if self.committees is not None else Place.objects.all()
            committee = allowed.filter(code=data.committee_code).first()
            if committee is None:
                raise EntryError(
                    "Patient.extension", f"no residential committee with code {data.committee_code}"
                )
        provisional = linkage.create_provisional(
            actor=self.actor,
            name=data.name,
            birth_date=data.birth_date,
            sex=data.sex,
            phone=data.phone,
            health_record_number=data.health_record_number,
            alt_id=data.alt_id,
            committee=committee,
            source_system=self.source_system,
            identifiers=lookups,
            request=self.request,
        )
        if found is not None and decision == matching.REVIEW_QUEUE:
            linkage.open_review(
                provisional=provisional,
                candidate_id=found[0],
                found=found[1],
                source_system=self.source_system,
                now=self.now,
            )
        return CREATED, provisional

    def _register(self, data: PatientIn) -> Resident:
        if not data.committee_code:
            raise EntryError(
                "Patient.extension",
                "no resident has this identifier; to register one, give the residential committee in the "
                f"extension {systems.COMMITTEE_EXTENSION}",
            )
        committee = Place.objects.filter(code=data.committee_code).first()
        if committee is None:
            raise EntryError("Patient.extension", f"no residential committee with code {data.committee_code}")
        resident_data: dict[str, Any] = {
            "citizen_id": data.citizen_id,
            "health_record_number": data.health_record_number,
            "alt_id_type": data.alt_id[0] if data.alt_id else "",
            "alt_id_number": data.alt_id[1] if data.alt_id else "",
            "name": data.name,
            "sex": data.sex,
            "birth_date": data.birth_date,
            "phone": data.phone,
            "committee_id": committee.pk,
            "is_resident": True,
        }
        try:
            return registry.do_create_resident(
                self.actor,
                resident_data,
                self.request,
                committees=self.committees,
                today=timezone.localtime(self.now).date(),
            )
        except registry.RegistryValidationError as exc:
            where, message = exc.errors[0]
            raise EntryError(f"Patient.{_PATIENT_ELEMENTS.get(where, where)}", message) from None
        except registry.DuplicateResidentError:
            raise EntryError(
                "Patient.identifier", "no resident you may record for has this identifier"
            ) from None

    # Clinical entries ---------------------------------------------------------------------------------

    def _encounter(self, entry: ParsedEntry, data: EncounterIn) -> tuple[str, Encounter]:
        resident = self._patient(data.subject, "Encounter")
        practitioner = self._producer(data.practitioner)
        if practitioner is not None and not isinstance(practitioner, Staff):
            raise EntryError("Encounter.participant.individual", "a participant must be a Practitioner")
        producer = self._producer(data.provider) or practitioner
        values = {
            "type": data.type,
            "department": data.department,
            "start": data.start,
            "end": data.end,
            "practitioner_id": practitioner.pk if practitioner else None,
        }
        institution = self._institution("Encounter.serviceProvider", producer, None)
        return self._upsert(Encounter, entry.source_id, resident, institution, values)

    def _condition(self, entry: ParsedEntry, data: ConditionIn) -> tuple[str, Condition]:
        resident = self._patient(data.subject, "Condition")
        encounter = self._encounter_ref(data.encounter, resident)
        institution = self._institution("Condition.recorder", self._producer(data.performer), encounter)
        values = {
            "code": data.code,
            "display": data.display,
            "clinical_status": data.clinical_status,
            "onset_date": data.onset_date,
            "recorded_date": data.recorded_date,
            "encounter_id": encounter.pk if encounter else None,
        }
        return self._upsert(Condition, entry.source_id, resident, institution, values)

    def _observation(self, entry: ParsedEntry, data: ObservationIn) -> tuple[str, Observation]:
        resident = self._patient(data.subject, "Observation")
        encounter = self._encounter_ref(data.encounter, resident)
        institution = self._institution("Observation.performer", self._producer(data.performer), encounter)
        method = data.method
        if method is None:
            home = encounter is not None and encounter.type == "home_visit"
            method = "home_visit" if home else "clinic"
        statuses: list[str] = []
        stored: Observation | None = None
        for value in data.values:
            source_id = f"{entry.source_id}#{value.code}" if data.is_panel else entry.source_id
            status, stored = self._upsert(
                Observation,
                source_id,
                resident,
                institution,
                {
                    "code": value.code,
                    "value": value.value,
                    "unit": value.unit,
                    "original_value": value.original_value,
                    "original_unit": value.original_unit,
                    "effective_at": data.effective_at,
                    "method": method,
                    "encounter_id": encounter.pk if encounter else None,
                },
            )
            statuses.append(status)
        assert stored is not None  # parse_observation never returns an observation without values
        for status in (CREATED, UPDATED):
            if status in statuses:
                return status, stored
        return UNCHANGED, stored

    def _medication(self, entry: ParsedEntry, data: MedicationIn) -> tuple[str, Medication]:
        kind = "MedicationRequest" if data.kind == "request" else "MedicationStatement"
        resident = self._patient(data.subject, kind)
        encounter = self._encounter_ref(data.encounter, resident)
        producer = self._producer(data.performer)
        values = {
            "kind": data.kind,
            "status": data.status,
            "medication_system": data.medication_system,
            "medication_code": data.medication_code,
            "medication_text": data.medication_text,
            "dosage_text": data.dosage_text,
            "authored_at": data.authored_at,
            "effective_start": data.effective_start,
            "effective_end": data.effective_end,
            "days_supply": data.days_supply,
            "prescriber_id": producer.pk if isinstance(producer, Staff) else None,
            "encounter_id": encounter.pk if encounter else None,
        }
        institution = self._institution(f"{kind}.requester", producer, encounter)
        return self._upsert(Medication, entry.source_id, resident, institution, values)

    def _upsert(
        self,
        model: type[E],
        source_id: str,
        resident: Resident,
        institution_id: int,
        values: dict[str, Any],
    ) -> tuple[str, E]:
        """Stage the entry's creation, or the update of the stored one with the same identifier; nothing
        (not even an audit entry) when nothing changed. `_write` stores what was staged."""
        values = {**values, "institution_id": institution_id}
        key = (model, source_id)
        if key not in self.stored:
            self.stored[key] = model._default_manager.filter(
                source_system=self.source_system, source_id=source_id
            ).first()
        existing = self.stage.pending(key, self.stored[key])
        if existing is None:
            created = model(
                resident=resident,
                source_system=self.source_system,
                source_id=source_id,
                received_at=self.now,
                **values,
            )
            self.stage.create(key, created, sorted(values))
            return CREATED, created
        if existing.resident_id != resident.pk:
            raise EntryError(
                f"{model.__name__}.identifier",
                "this identifier already belongs to another patient's record",
            )
        current = self.stage.current(existing)
        changed = [
            name for name, value in values.items() if current.get(name, getattr(existing, name)) != value
        ]
        if not changed:
            return UNCHANGED, existing  # type: ignore[return-value]
        self.stage.update(existing, {name: values[name] for name in changed}, self.now)
        return UPDATED, existing  # type: ignore[return-value]


class _Stage:
    """The writes of a chunk, held back until the whole chunk is checked. Each entry's writes are
    first held on their own (`open`) and join the chunk only when the entry is accepted (`keep`), so a
    refused entry leaves nothing behind, not even a change to an object the chunk already holds."""

    def __init__(self) -> None:
        self.creates: list[ClinicalEntry] = []
        self.updates: dict[int, tuple[ClinicalEntry, set[str]]] = {}
        self.events: list[tuple[Action, ClinicalEntry, list[str]]] = []
        self.created: dict[tuple[type[ClinicalEntry], str], ClinicalEntry] = {}
        self.open: list[tuple[str, Any, Any, Any]] = []

    def pending(
        self, key: tuple[type[ClinicalEntry], str], stored: ClinicalEntry | None
    ) -> ClinicalEntry | None:
        """The row an identifier names: stored, or created earlier in this chunk or entry."""
        for kind, open_key, obj, _ in self.open:
            if kind == CREATED and open_key == key:
                return obj  # type: ignore[no-any-return]
        return self.created.get(key, stored)

    def current(self, obj: ClinicalEntry) -> dict[str, Any]:
        """Values this entry has already staged for `obj` (a panel's rows are separate objects, so
        this is only ever non-empty for a repeated identifier within one entry)."""
        values: dict[str, Any] = {}
        for kind, _, target, changes in self.open:
            if kind == UPDATED and target is obj:
                values.update(changes)
        return values

    def create(self, key: tuple[type[ClinicalEntry], str], obj: ClinicalEntry, fields: list[str]) -> None:
        self.open.append((CREATED, key, obj, fields))

    def update(self, obj: ClinicalEntry, changes: dict[str, Any], now: datetime) -> None:
        self.open.append((UPDATED, None, obj, {**changes, "received_at": now}))

    def discard(self) -> None:
        self.open = []

    def keep(self) -> None:
        for kind, key, obj, payload in self.open:
            if kind == CREATED:
                self.creates.append(obj)
                self.created[key] = obj
                self.events.append((Action.CREATE, obj, payload))
                continue
            for name, value in payload.items():
                setattr(obj, name, value)
            names = [name for name in payload if name != "received_at"]
            self.events.append((Action.UPDATE, obj, names))
            _, seen = self.updates.setdefault(id(obj), (obj, set()))
            seen.update(names)
        self.open = []


def _patient_lookups(data: PatientIn) -> list[tuple[str, str]]:
    """The identifiers a Patient entry is matched on, most certain first."""
    lookups: list[tuple[str, str]] = []
    if data.citizen_id:
        lookups.append((systems.CITIZEN_ID_SYSTEM, data.citizen_id))
    if data.health_record_number:
        lookups.append((systems.HEALTH_RECORD_SYSTEM, data.health_record_number))
    if data.alt_id is not None:
        lookups.append((systems.ALT_ID_SYSTEMS[data.alt_id[0]], data.alt_id[1]))
    return lookups


# Registry field names → the Patient elements a sender fixes.
_PATIENT_ELEMENTS = {
    "citizen_id": "identifier",
    "alt_id_type": "identifier",
    "alt_id_number": "identifier",
    "health_record_number": "identifier",
    "birth_date": "birthDate",
    "sex": "gender",
    "phone": "telecom",
    "committee_id": "extension",
}


def _is_a(target: object, resource_type: str) -> bool:
    kinds: dict[str, type[object]] = {
        "Patient": Resident,
        "Encounter": Encounter,
        "Organization": Institution,
        "Practitioner": Staff,
    }
    kind = kinds.get(resource_type)
    return kind is None or isinstance(target, kind)


# Bulk CSV feeds ---------------------------------------------------------------------------------------

ROWS = "rows"  # each chunk commits its good rows; bad rows are reported and skipped
FILE = "file"  # all or nothing: one bad row and the file writes nothing
CSV_CHUNK_ROWS = 5_000
CSV_ERRORS_KEPT = 1_000  # what a report can show; the count covers them all, memory stays constant


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


@dataclass(slots=True)
class CsvOutcome:
    kind: str
    mode: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    committed: bool = True
    errors: list[RowProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    @property
    def written(self) -> int:
        """Entries stored or changed (none when a file-level import was rolled back)."""
        return self.created + self.updated if self.committed else 0


def do_import_csv(
    kind: str,
    lines: Iterable[str],
    *,
    actor: Any,
    source_system: str,
    mode: str = ROWS,
    name: str = "",
    now: datetime | None = None,
    on_progress: Callable[[int], None] | None = None,
    chunk_rows: int = CSV_CHUNK_ROWS,
) -> CsvOutcome:
    """Import a CSV feed (layouts in docs/records-import.md) chunk by chunk, so memory does not grow
    with the file. Each chunk resolves its residents, institutions and stored entries in a few queries
    and writes with bulk inserts and updates; the same (source system, source_id) updates the stored
    entry, and an unchanged row writes nothing. Every refused row is reported by line and column.

    One audit entry per written chunk (its lines and counts): a feed of a million readings would
    otherwise double the audit log, and the readings' own provenance already names their source."""
    if kind not in bulk.KINDS:
        raise ValueError(f"unknown CSV kind {kind!r}; use one of {', '.join(bulk.KINDS)}")
    if mode not in (ROWS, FILE):
        raise ValueError(f"unknown mode {mode!r}; use {ROWS} or {FILE}")
    source_system = source_system.strip()
    if not source_system or len(source_system) > SOURCE_SYSTEM_MAX_LENGTH:
        raise ValueError(f"the source system must have 1–{SOURCE_SYSTEM_MAX_LENGTH} characters")
    outcome = CsvOutcome(kind=kind, mode=mode)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError("line 1: the file is empty; it needs a header row") from None
    except csv.Error as exc:
        raise ValueError(f"line 1: {exc}") from None
    columns = bulk.check_header(kind, header)
    feed = _CsvFeed(kind, actor, source_system, name, now or timezone.now())

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                _problem(outcome, RowProblem(reader.line_num, "-", f"unreadable CSV: {exc}"))
                continue
            if not any(cell.strip() for cell in values):
                continue
            if len(values) != len(columns):
                reason = f"{len(values)} cells where the header has {len(columns)}"
                _problem(outcome, RowProblem(reader.line_num, "-", reason))
                continue
            yield reader.line_num, dict(zip(columns, values, strict=True))

    chunks = _chunked(rows(), chunk_rows)
    if mode == FILE:
        with transaction.atomic():
            for chunk in chunks:
                feed.write(chunk, outcome)
                if on_progress:
                    on_progress(len(chunk))
            if outcome.failed:
                transaction.set_rollback(True)
                outcome.committed = False
        if not outcome.committed:
            # The chunks' audit entries went with the rollback; the refusal itself stays on record.
            record(
                actor=actor,
                action=Action.CREATE,
                resource_type=feed.model._meta.model_name or "",
                outcome=Outcome.INVALID,
                detail={
                    "via": f"csv {kind}",
                    "source_system": source_system,
                    "file": name,
                    "failed": outcome.failed,
                    "rows": outcome.rows,
                },
            )
    else:
        for chunk in chunks:
            with transaction.atomic():
                feed.write(chunk, outcome)
            if on_progress:
                on_progress(len(chunk))
    return outcome


def _chunked(
    rows: Iterator[tuple[int, dict[str, str]]], size: int
) -> Iterator[list[tuple[int, dict[str, str]]]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def _problem(outcome: CsvOutcome, problem: RowProblem) -> None:
    outcome.failed += 1
    outcome.rows += 1
    if len(outcome.errors) < CSV_ERRORS_KEPT:
        outcome.errors.append(problem)


def _column_value(value: Any) -> Any:
    """A Python value as the bulk writer hands it to the database (what the ORM would store)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def _insert_new(model: type[ClinicalEntry], entries: list[Any]) -> None:
    """Insert new, already validated entries with executemany (SQLite) or COPY (PostgreSQL): the ORM's
    bulk_create spends most of a feed's time compiling SQL per field and row."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    values_of = attrgetter(*(f.attname for f in fields))
    # Only dates, times and JSON need adapting; the other values go to the driver as they are.
    adapt = [
        i
        for i, f in enumerate(fields)
        if f.get_internal_type() in {"DateTimeField", "DateField", "JSONField"}
    ]

    def row(entry: Any) -> tuple[Any, ...]:
        values = list(values_of(entry))
        for i in adapt:
            values[i] = _column_value(values[i])
        return tuple(values)

    rows = (row(entry) for entry in entries)
    # COPY reports a duplicate identifier as the driver's own error: make it Django's IntegrityError.
    with connection.wrap_database_errors:
        insert_rows(model, [f.column for f in fields], rows)


class _CsvFeed:
    """What one CSV import knows across chunks: the institutions and staff by code."""

    def __init__(self, kind: str, actor: Any, source_system: str, name: str, now: datetime) -> None:
        self.kind = kind
        self.actor = actor
        self.source_system = source_system
        self.name = name
        self.now = now
        self.model: type[Observation] | type[ElderlyExam] = (
            Observation if kind == bulk.READINGS else ElderlyExam
        )
        self.institutions: dict[str, int] = dict(Institution.objects.values_list("code", "id"))
        self.staff: dict[str, int | None] = {}

    def _parse(self, values: dict[str, str]) -> bulk.ReadingRow | bulk.ExamRow:
        if self.kind == bulk.READINGS:
            return bulk.parse_reading(values, self.now)
        return bulk.parse_exam(values, self.now)

    def _values(self, row: bulk.ReadingRow | bulk.ExamRow) -> dict[str, Any]:
        if isinstance(row, bulk.ReadingRow):
            return {
                "code": row.code,
                "value": row.value,
                "unit": row.unit,
                "original_value": row.original_value,
                "original_unit": row.original_unit,
                "effective_at": row.effective_at,
                "method": row.method,
            }
        examiner = self.staff.get(row.examiner) if row.examiner else None
        if row.examiner and examiner is None:
            raise bulk.RowError("examiner", f"no staff member with code {row.examiner}")
        return {"exam_date": row.exam_date, "examiner_id": examiner, **row.parts}

    def _residents(self, keys: list[bulk.RowKey]) -> tuple[dict[str, int], dict[str, int]]:
        citizen_ids = {k.citizen_id for k in keys if k.citizen_id}
        numbers = {k.health_record_number for k in keys if k.health_record_number}
        by_citizen_id = dict(
            Resident.objects.filter(citizen_id__in=citizen_ids).values_list("citizen_id", "id")
        )
        by_number = dict(
            Resident.objects.filter(health_record_number__in=numbers).values_list(
                "health_record_number", "id"
            )
        )
        return {str(k): v for k, v in by_citizen_id.items()}, {str(k): v for k, v in by_number.items()}

    def write(self, chunk: list[tuple[int, dict[str, str]]], outcome: CsvOutcome) -> None:
        parsed: list[tuple[int, bulk.ReadingRow | bulk.ExamRow]] = []
        problems: list[RowProblem] = []
        for line, cells in chunk:
            try:
                parsed.append((line, self._parse(cells)))
            except bulk.RowError as exc:
                problems.append(RowProblem(line, exc.column, exc.reason))
        wanted = {row.examiner for _, row in parsed if isinstance(row, bulk.ExamRow) and row.examiner}
        unknown = wanted - self.staff.keys()
        if unknown:
            found = dict(Staff.objects.filter(code__in=unknown).values_list("code", "id"))
            self.staff.update({code: found.get(code) for code in unknown})
        by_citizen_id, by_number = self._residents([row.key for _, row in parsed])
        stored = {
            entry.source_id: entry
            for entry in self.model._default_manager.filter(
                source_system=self.source_system, source_id__in={row.key.source_id for _, row in parsed}
            )
        }
        creates: dict[str, Any] = {}
        updates: dict[str, tuple[Any, set[str]]] = {}
        for line, row in parsed:
            try:
                resident_id = self._resident(row.key, by_citizen_id, by_number)
                institution_id = self.institutions.get(row.key.institution)
                if institution_id is None:
                    raise bulk.RowError("institution", f"no institution with code {row.key.institution}")
                values: dict[str, Any] = {**self._values(row), "institution_id": institution_id}
            except bulk.RowError as exc:
                problems.append(RowProblem(line, exc.column, exc.reason))
                continue
            outcome.rows += 1
            source_id = row.key.source_id
            entry = stored.get(source_id)
            if entry is None and source_id in creates:
                entry = creates[source_id]  # the same identifier twice in a file: the later row wins
            if entry is None:
                creates[source_id] = self.model(
                    resident_id=resident_id,
                    source_system=self.source_system,
                    source_id=source_id,
                    received_at=self.now,
                    **values,
                )
                outcome.created += 1
                continue
            if entry.resident_id != resident_id:
                outcome.rows -= 1
                reason = "this identifier already belongs to another resident's record"
                problems.append(RowProblem(line, "source_id", reason))
                continue
            changed = {key for key, value in values.items() if getattr(entry, key) != value}
            if not changed:
                outcome.unchanged += 1
                continue
            for key in changed:
                setattr(entry, key, values[key])
            if source_id in creates:
                # Still one new entry, now holding the later row's values.
                outcome.updated += 1
                continue
            entry.received_at = self.now
            previous = updates.get(source_id)
            updates[source_id] = (entry, changed | (previous[1] if previous else set()))
            if previous is None:
                outcome.updated += 1
        for problem in sorted(problems, key=lambda p: p.line):
            _problem(outcome, problem)
        if creates:
            _insert_new(self.model, list(creates.values()))
        if updates:
            fields = sorted({name for _, names in updates.values() for name in names} | {"received_at"})
            self.model._default_manager.bulk_update(
                [entry for entry, _ in updates.values()], fields, batch_size=500
            )
        if creates or updates:
            record(
                actor=self.actor,
                action=Action.CREATE if creates else Action.UPDATE,
                resource_type=self.model._meta.model_name or "",
                detail={
                    "via": f"csv {self.kind}",
                    "source_system": self.source_system,
                    "file": self.name,
                    "lines": [chunk[0][0], chunk[-1][0]],
                    "created": len(creates),
                    "updated": len(updates),
                },
            )

    @staticmethod
    def _resident(key: bulk.RowKey, by_citizen_id: dict[str, int], by_number: dict[str, int]) -> int:
        if key.citizen_id:
            found = by_citizen_id.get(key.citizen_id)
            if found is None:
                masked = identity.mask_citizen_id(key.citizen_id)
                raise bulk.RowError("citizen_id", f"no resident with citizen ID {masked}")
            return found
        found = by_number.get(key.health_record_number)
        if found is None:
            raise bulk.RowError(
                "health_record_number", f"no resident with health-record number {key.health_record_number}"
            )
        return found
