"""Second-factor pages: set-up with a QR code, the verification step of the login, recovery codes."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from jiayi import access
from jiayi.accounts import services


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """Staff set up their authenticator app here: scan, type the first code, keep the recovery codes."""
    if not access.can_use_second_factor(request.user):
        raise Http404
    enrolled = services.is_enrolled(request.user)
    if enrolled and not services.is_verified(request):
        return redirect("accounts:verify")
    error = ""
    if request.method == "POST" and not enrolled:
        try:
            codes = services.confirm_enrolment(request, request.user, request.POST.get("code", ""))
        except services.SecondFactorError as exc:
            error = str(exc)
        else:
            request.session[services.SESSION_KEY] = True
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": _next(request)})
    device = None if enrolled else services.device_of(request.user)
    if not enrolled and (device is None or request.method != "POST"):
        device = services.start_enrolment(request.user)
    return render(
        request,
        "accounts/setup.html",
        {
            "enrolled": enrolled,
            "qr": services.qr_svg(device) if device is not None else "",
            "secret": device.secret if device is not None else "",
            "error": error,
            "unused": services.unused_recovery_codes(request.user) if enrolled else 0,
            "next": _next(request),
        },
        status=400 if error else 200,
    )


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The login's second step: a code from the authenticator app, or a recovery code."""
    if not services.is_enrolled(request.user):
        raise Http404
    if services.is_verified(request):
        return redirect(_next(request))
    error = ""
    if request.method == "POST":
        try:
            services.verify(request, request.user, request.POST.get("code", ""))
        except services.SecondFactorError as exc:
            error = str(exc)
        else:
            return redirect(_next(request))
    return render(
        request,
        "accounts/verify.html",
        {"error": error, "next": _next(request)},
        status=400 if error else 200,
    )


@login_required
@require_POST
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes for a verified session (the old ones stop working)."""
    if not services.is_enrolled(request.user) or not services.is_verified(request):
        raise Http404
    codes = services.new_recovery_codes(request.user)
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": "/"})
