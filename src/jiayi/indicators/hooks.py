"""Keeping the fact tables current: receivers run inside the writer's transaction, so a recorded
follow-up or signing shows in every figure the moment it commits, and a rolled-back write leaves the
facts as they were. Only the touched residents' rows are recomputed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from jiayi.indicators import facts, results
from jiayi.records.signals import entries_written

_connected = False
# Models whose rows belong to one resident through a `resident_id` column. Other modules append
# theirs (care programmes) with `watch_resident_model`.
_RESIDENT_MODELS: list[type[Model]] = []


def _resident_changed(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    resident_id = instance.pk if sender.__name__ == "Resident" else getattr(instance, "resident_id", None)
    if resident_id is None:
        return
    if sender.__name__ == "Resident" and kwargs.get("signal") is post_delete:
        return
    facts.refresh_residents([resident_id])


def _entries_written(sender: type[Model], instances: Sequence[Model], **kwargs: Any) -> None:
    """A chunk of a bulk import: one refresh for all the residents it touched."""
    facts.refresh_residents(
        resident_id
        for resident_id in (getattr(instance, "resident_id", None) for instance in instances)
        if resident_id is not None
    )


def _resident_removed(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    """A deleted resident's fact rows go with it (cascade): take what they counted away first."""
    from jiayi.indicators.models import FactPeriod

    for period in FactPeriod.objects.all():
        results.apply_delta(period, results.old_rows(period, [instance.pk]), [])


def _resident_deleted(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    resident_id = getattr(instance, "resident_id", None)
    if resident_id is not None:
        facts.refresh_residents([resident_id])


def _place_changed(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    # A committee's responsible centre or designated doctor decides where unsigned residents count.
    from jiayi.registry.models import Resident

    facts.refresh_units()
    facts.refresh_residents(Resident.objects.filter(committee=instance.pk).values_list("id", flat=True))


def _units_changed(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    facts.refresh_units()


def _committees_changed(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    if not str(kwargs.get("action", "")).startswith("post_"):
        return
    # Which team serves a committee decides where its unsigned residents count.
    from jiayi.registry.models import Place, Resident, Team

    committees = set(kwargs.get("pk_set") or ())
    if isinstance(instance, Team):
        committees |= set(instance.committees.values_list("pk", flat=True))
    elif isinstance(instance, Place):
        committees.add(instance.pk)
    facts.refresh_units()
    facts.refresh_residents(Resident.objects.filter(committee__in=committees).values_list("id", flat=True))


def _slots_changed(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    """A slot saved, an appointment made on one, or a release run: the hospitals' slot rows.

    Appointment status changes written with queryset updates (cancel, no-show, expired holds) come
    through `referrals.signals.slots_changed` instead (`_appointments_changed`)."""
    if kwargs.get("raw"):
        return
    from jiayi.referrals.models import Slot

    hospitals: list[int] = []
    if sender is Slot:
        hospitals = [instance.hospital_id] if isinstance(instance, Slot) else []
    elif hasattr(instance, "slot_ids"):
        hospitals = list(Slot.objects.order_by().values_list("hospital_id", flat=True).distinct())
    elif isinstance(slot_id := getattr(instance, "slot_id", None), int):
        hospitals = list(Slot.objects.filter(pk=slot_id).values_list("hospital_id", flat=True))
    facts.refresh_slots(hospitals)


def _appointments_changed(sender: type[Model], hospital_ids: list[int], **kwargs: Any) -> None:
    facts.refresh_slots(hospital_ids)


def watch_resident_model(model: type[Model]) -> None:
    """Recompute a resident's rows whenever a row of `model` (with a `resident_id`) is saved or deleted."""
    _RESIDENT_MODELS.append(model)
    post_save.connect(_resident_changed, sender=model, dispatch_uid=f"indicators-save-{model._meta.label}")
    post_delete.connect(_resident_deleted, sender=model, dispatch_uid=f"indicators-del-{model._meta.label}")


def connect() -> None:
    global _connected
    if _connected:
        return
    _connected = True
    from jiayi.records.models import Condition, ElderlyExam, Encounter, Observation
    from jiayi.registry.models import Institution, KeyPopulationDeclaration, Place, Resident, Staff, Team
    from jiayi.signing.models import Signing

    post_save.connect(_resident_changed, sender=Resident, dispatch_uid="indicators-save-resident")
    pre_delete.connect(_resident_removed, sender=Resident, dispatch_uid="indicators-remove-resident")
    entries_written.connect(_entries_written, dispatch_uid="indicators-entries-written")
    from jiayi.indicators.care_facts import WATCHED_MODELS

    for model in (Signing, Condition, Observation, Encounter, ElderlyExam, KeyPopulationDeclaration):
        watch_resident_model(model)
    for care_model in WATCHED_MODELS:
        watch_resident_model(care_model)
    from jiayi.referrals.models import Appointment, Referral, Slot, SlotRelease

    # A referral linked to a visit makes it count toward the signed resident's visit compliance.
    watch_resident_model(Referral)
    from jiayi.referrals.signals import slots_changed

    slots_changed.connect(_appointments_changed, dispatch_uid="indicators-appointments-changed")
    for slot_model in (Slot, Appointment, SlotRelease):
        post_save.connect(_slots_changed, sender=slot_model, dispatch_uid=f"indicators-slots-{slot_model}")
    post_save.connect(_place_changed, sender=Place, dispatch_uid="indicators-save-place")
    for unit_model in (Staff, Institution, Team):
        post_save.connect(_units_changed, sender=unit_model, dispatch_uid=f"indicators-units-{unit_model}")
    m2m_changed.connect(
        _committees_changed, sender=Team.committees.through, dispatch_uid="indicators-team-m2m"
    )
    m2m_changed.connect(_units_changed, sender=Team.members.through, dispatch_uid="indicators-member-m2m")
