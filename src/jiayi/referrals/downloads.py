"""Reading a file sent with a referral back: the one way out of the private attachment storage, shared
by the page and the API. Every attempt is audited, refused ones included."""

from __future__ import annotations

import logging

from django.http import FileResponse, Http404, HttpRequest

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.referrals.models import ReferralFile

logger = logging.getLogger(__name__)
RESOURCE = "referral_file"


def readable_file(request: HttpRequest, pk: int) -> ReferralFile | None:
    """The file if the user may read it (the receiving desk, the referring team); None, audited as a
    denied read, when it is missing or out of reach, which look the same."""
    found = access.referral_files_visible_to(request.user).select_related("referral").filter(pk=pk).first()
    if found is None:
        record(
            request=request,
            action=Action.READ,
            resource_type=RESOURCE,
            resource_id=pk,
            outcome=Outcome.DENIED,
        )
    return found


def as_download(request: HttpRequest, found: ReferralFile) -> FileResponse:
    """The bytes as a download with the type its content proved; never rendered inline, never cached."""
    try:
        handle = found.file.open("rb")
    except FileNotFoundError as exc:
        # The row outlived its bytes (a restore without the attachment directory): say so in the log.
        logger.error("referral file %s: %s is missing from the attachment storage", found.pk, found.file.name)
        raise Http404 from exc
    record(
        request=request,
        action=Action.READ,
        resource_type=RESOURCE,
        resource_id=found.pk,
        resident_id=found.referral.resident_id,
        detail={"referral": found.referral_id, "sha256": found.sha256},
    )
    response = FileResponse(handle, as_attachment=True, filename=found.name, content_type=found.content_type)
    response["Cache-Control"] = "no-store"
    return response
