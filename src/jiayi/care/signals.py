"""Keep the 65+ care year in step with the exam forms written through the health account."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from jiayi.care import plan
from jiayi.records.models import ElderlyExam


@receiver(post_save, sender=ElderlyExam, dispatch_uid="care_elderly_exam_saved")
def exam_saved(sender: type[ElderlyExam], instance: ElderlyExam, **kwargs: Any) -> None:
    """A saved form of a resident aged 65 or more that year updates their care year (bulk loads bypass
    this; the synthetic generator builds the care years itself)."""
    if instance.exam_date.year - instance.resident.birth_date.year < plan.ELDERLY_FROM_AGE:
        return
    from jiayi.care.services import do_sync_elderly_year

    resident, year = instance.resident, instance.exam_date.year
    transaction.on_commit(lambda: do_sync_elderly_year(resident, year))
