"""The synthetic points, education and feedback data: deterministic, balanced, and safe to rerun."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db.models import Sum

from jiayi.education.models import Delivery, Reading
from jiayi.feedback.models import Complaint, SurveyResponse
from jiayi.points import services
from jiayi.points.models import PointAccount, PointEntry, Redemption
from jiayi.points.synth import generate_points_and_education
from jiayi.registry.models import Resident
from tests.conftest import TEST_DISTRICT

from .helpers import at, elderly_exam, self_measurement

pytestmark = pytest.mark.django_db


def test_generated_data_is_deterministic_and_every_balance_equals_its_ledger() -> None:
    # The test district is generated without histories: give a few residents something to earn with.
    residents = list(Resident.objects.filter(date_of_death__isnull=True).order_by("id")[:40])
    for n, resident in enumerate(residents):
        elderly_exam(resident, date(2025, 3, 1) + timedelta(days=n))
        self_measurement(resident, at(date(2025, 4, 1), 8))
    made = generate_points_and_education(TEST_DISTRICT, as_of=TEST_DISTRICT.as_of, seed=5)
    assert made["articles"] >= 20
    assert made["deliveries"] == Delivery.objects.count() > 0
    assert made["readings"] == Reading.objects.count() > 0
    assert made["survey_responses"] == SurveyResponse.objects.count() > 0
    assert made["complaints"] == Complaint.objects.count()
    assert made["redemptions"] == Redemption.objects.count()
    # Exams and measurements made before the rules existed were paid by the replay.
    assert PointEntry.objects.filter(rule__event_kind="elderly_exam").count() == 40
    mismatched = [
        a.resident_id for a in PointAccount.objects.all() if a.balance != services.ledger_sum(a.resident_id)
    ]
    assert mismatched == []
    assert (
        PointAccount.objects.aggregate(s=Sum("balance"))["s"]
        == PointEntry.objects.aggregate(s=Sum("points"))["s"]
    )
    # Replaying again pays nothing.
    assert all(r.entries == 0 for r in services.award_pending().values())
    first = sorted(Delivery.objects.values_list("resident_id", "article__slug", "channel"))
    Delivery.objects.all().delete()
    Reading.objects.all().delete()
    rng_again = generate_points_and_education(TEST_DISTRICT, as_of=TEST_DISTRICT.as_of, seed=5)
    assert sorted(Delivery.objects.values_list("resident_id", "article__slug", "channel")) == first
    assert rng_again["articles"] == 0  # the library is loaded once
