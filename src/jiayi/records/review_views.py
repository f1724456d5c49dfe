"""The identity review queue (疑似重复审核): possible matches to settle and recent merges to undo, for
administrators and centre managers. Personal data is masked; every view and decision is audited."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from jiayi import access
from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.records import linkage, matching
from jiayi.records.models import ReviewStatus
from jiayi.registry import identity
from jiayi.registry.models import Resident

QUEUE_LIMIT = 100
MERGES_SHOWN = 20
PART_LABELS = {"name": "Name", "birth_date": "Birth date", "sex": "Sex", "phone": "Phone"}


def _person(resident: Resident) -> dict[str, Any]:
    return {
        "id": resident.pk,
        "name": identity.mask_name(resident.name),
        "birth_date": resident.birth_date,
        "sex": resident.get_sex_display(),
        "phone": resident.masked_phone,
        "identifier": resident.masked_identifier,
        "provisional": resident.provisional,
        "records": sum(m._default_manager.filter(resident=resident).count() for m in linkage.ENTRY_MODELS),
    }


@login_required
@require_http_methods(["GET", "POST"])
def queue(request: HttpRequest) -> HttpResponse:
    if not access.can_review_matches(request.user):
        raise PermissionDenied
    if request.method == "POST":
        return _decide(request)
    reviews = list(
        access.match_reviews_visible_to(request.user)
        .filter(status=ReviewStatus.PENDING)
        .select_related("provisional", "candidate")
        .order_by("-score", "id")[:QUEUE_LIMIT]
    )
    merges = list(
        access.merges_visible_to(request.user)
        .select_related("survivor", "duplicate")
        .order_by("-merged_at", "-id")[:MERGES_SHOWN]
    )
    rows = [
        {
            "review": review,
            "incoming": _person(review.provisional),
            "candidate": _person(review.candidate),
            "parts": [
                (_(PART_LABELS.get(name, name)), points, matching.WEIGHTS.get(name, 1.0))
                for name, points in review.parts.items()
            ],
        }
        for review in reviews
    ]
    record(
        request=request,
        action=Action.READ,
        resource_type="match_review",
        detail={"pending_shown": len(rows), "merges_shown": len(merges)},
    )
    context = {
        "rows": rows,
        "merges": [
            {
                "merge": merge,
                "survivor": identity.mask_name(merge.survivor.name),
                "duplicate": identity.mask_name(merge.duplicate.name),
            }
            for merge in merges
        ],
        "auto_link": matching.AUTO_LINK,
        "review_threshold": matching.REVIEW,
    }
    return render(request, "records/review_queue.html", context)


def _number(request: HttpRequest, name: str) -> int | None:
    value = request.POST.get(name, "")
    return int(value) if value.isdigit() else None


def _decide(request: HttpRequest) -> HttpResponse:
    review_id = _number(request, "review")
    merge_id = _number(request, "merge")
    try:
        if review_id is not None:
            review = access.match_reviews_visible_to(request.user).filter(pk=review_id).first()
            if review is None:
                raise Http404
            same = request.POST.get("decision") == "same"
            linkage.decide_review(request.user, review, same_person=same, request=request)
            messages.success(
                request,
                _("Merged: the records now belong to the resident.")
                if same
                else _("Kept apart as different people."),
            )
        elif merge_id is not None:
            merge = access.merges_visible_to(request.user).filter(pk=merge_id).first()
            if merge is None:
                raise Http404
            linkage.unmerge(request.user, merge, request=request)
            messages.success(request, _("Merge undone: the records moved back."))
        else:
            raise Http404
    except linkage.MergeError as exc:
        messages.error(request, str(exc))
    return redirect("records:review_queue")
