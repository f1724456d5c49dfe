"""The possible-duplicates page: administrators and centre managers see pending reviews masked and
settle them; other roles are refused; a centre manager only sees reviews of their own residents."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from jiayi import access
from jiayi.audit.models import AuditEntry
from jiayi.records import linkage
from jiayi.records.matching import Score
from jiayi.records.models import MatchReview, ResidentMerge, ReviewStatus
from jiayi.registry.choices import AlternativeIdType
from jiayi.registry.models import Resident

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _review(candidate: Resident, number: str) -> MatchReview:
    provisional = Resident.objects.create(
        name=candidate.name[:-1] + "叶",
        birth_date=candidate.birth_date,
        sex=candidate.sex,
        alt_id_type=AlternativeIdType.PROVISIONAL,
        alt_id_number=number,
        provisional=True,
    )
    return linkage.open_review(
        provisional=provisional,
        candidate_id=candidate.pk,
        found=Score(0.575, {"name": 0.175, "birth_date": 0.3, "sex": 0.1, "phone": 0.0}),
        source_system="his-page",
        now=timezone.now(),
    )


@pytest.fixture
def managed(personas) -> Resident:
    found = access.residents_visible_to(personas.manager).order_by("id").first()
    assert found is not None
    return found


def test_a_centre_manager_sees_a_masked_review_and_merges_it(personas, managed):
    review = _review(managed, "PPAGE1")
    elsewhere = Resident.objects.exclude(pk__in=access.residents_visible_to(personas.manager)).first()
    assert elsewhere is not None
    hidden = _review(elsewhere, "PPAGE2")
    client = _client(personas.manager)

    page = client.get("/records/matches/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Possible duplicates" in html
    assert managed.name not in html  # masked
    assert f'name="review" value="{review.pk}"' in html
    assert f'name="review" value="{hidden.pk}"' not in html
    assert AuditEntry.objects.filter(resource_type="match_review", actor=personas.manager).exists()

    # Someone else's review answers like one that does not exist.
    assert client.post("/records/matches/", {"review": hidden.pk, "decision": "same"}).status_code == 404
    done = client.post("/records/matches/", {"review": review.pk, "decision": "same"})
    assert done.status_code == 302
    review.refresh_from_db()
    assert review.status == ReviewStatus.LINKED
    merge = ResidentMerge.objects.get(duplicate=review.provisional)
    assert f'name="merge" value="{merge.pk}"' in client.get("/records/matches/").content.decode()
    client.post("/records/matches/", {"merge": merge.pk})
    merge.refresh_from_db()
    assert merge.undone_at is not None


def test_an_administrator_keeps_two_people_apart(personas, managed):
    review = _review(managed, "PPAGE3")
    client = _client(personas.admin)
    assert f'name="review" value="{review.pk}"' in client.get("/records/matches/").content.decode()
    client.post("/records/matches/", {"review": review.pk, "decision": "different"})
    review.refresh_from_db()
    assert review.status == ReviewStatus.DISTINCT
    assert review.provisional.merged_into is None


@pytest.mark.parametrize("who", ["doctor", "nurse", "desk", "cdc", "analyst", "resident"])
def test_other_roles_are_refused(personas, who):
    assert _client(getattr(personas, who)).get("/records/matches/").status_code == 403
