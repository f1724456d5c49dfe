"""TOTP second factor (GB/T 22239 §8.1.4.1: two authentication techniques; ASVS 6.3.3): enrolment,
verification with replay refusal, recovery codes, and the rule of who must use it.

Whether a login still owes its second factor is kept in the session (`SESSION_KEY`); Django's login
starts a new session, so every login owes it afresh.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

import pyotp
import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_noop

from jiayi import access
from jiayi.accounts.models import RecoveryCode, TotpDevice
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record

ISSUER = "jiayi"
SESSION_KEY = "jiayi_second_factor_ok"
RECOVERY_CODES = 10
# One step either side: phones' clocks drift, and a code typed at the end of its step arrives in the next.
VALID_WINDOW = 1
STEP_SECONDS = 30


class SecondFactorError(ValueError):
    """A code that cannot be accepted; the message is safe to show."""


def required_roles() -> frozenset[str]:
    """Roles that must use a second factor: `JIAYI_2FA_REQUIRED_ROLES` (none unless set)."""
    return frozenset(getattr(settings, "JIAYI_2FA_REQUIRED_ROLES", ()))


def device_of(user: Any) -> TotpDevice | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return TotpDevice.objects.filter(user=user).first()


def is_enrolled(user: Any) -> bool:
    device = device_of(user)
    return device is not None and device.confirmed_at is not None


def must_use_second_factor(user: Any) -> bool:
    """Staff who enrolled use their factor; roles named in the setting must enrol first."""
    return is_enrolled(user) or access.role_of(user) in required_roles()


def start_enrolment(user: Any) -> TotpDevice:
    """A new unconfirmed secret for the user (replacing an unconfirmed one; a confirmed one stays until
    the new one is confirmed)."""
    device = device_of(user)
    if device is not None and device.confirmed_at is not None:
        raise SecondFactorError(gettext_noop("a second factor is already set up"))
    secret = pyotp.random_base32()
    if device is None:
        return TotpDevice.objects.create(user=user, secret=secret)
    device.secret = secret
    device.save(update_fields=["secret"])
    return device


def provisioning_uri(device: TotpDevice) -> str:
    return pyotp.TOTP(device.secret).provisioning_uri(name=device.user.get_username(), issuer_name=ISSUER)


def qr_svg(device: TotpDevice) -> str:
    """The provisioning URI as an inline SVG QR code, for the authenticator app to scan."""
    return str(segno.make(provisioning_uri(device), error="m").svg_inline(scale=5))


def _step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def _matching_step(device: TotpDevice, code: str, now: datetime) -> int | None:
    totp = pyotp.TOTP(device.secret)
    current = _step(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _check_code(device: TotpDevice, code: str, now: datetime) -> None:
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        raise SecondFactorError(gettext_noop("enter the 6-digit code from your authenticator app"))
    with transaction.atomic():
        locked = TotpDevice.objects.select_for_update().get(pk=device.pk)
        step = _matching_step(locked, code, now)
        if step is None:
            raise SecondFactorError(gettext_noop("the code is wrong or has expired"))
        if step <= locked.last_step:
            raise SecondFactorError(gettext_noop("this code has already been used; wait for the next one"))
        locked.last_step = step
        locked.save(update_fields=["last_step"])
    device.last_step = step


def confirm_enrolment(
    request: HttpRequest | None, user: Any, code: str, *, now: datetime | None = None
) -> list[str]:
    """Confirm the device with a first code; returns fresh recovery codes (shown once)."""
    device = device_of(user)
    if device is None:
        raise SecondFactorError(gettext_noop("start the set-up first"))
    if device.confirmed_at is not None:
        raise SecondFactorError(gettext_noop("a second factor is already set up"))
    now = now or timezone.now()
    _check_code(device, code, now)
    with transaction.atomic():
        device.confirmed_at = now
        device.save(update_fields=["confirmed_at"])
        codes = new_recovery_codes(user)
        record(request=request, actor=user, action=Action.CREATE, resource_type="second_factor")
    return codes


def _hash_recovery_code(code: str) -> str:
    normalised = code.strip().replace("-", "").replace(" ", "").lower()
    return hmac.new(settings.SECRET_KEY.encode(), normalised.encode(), hashlib.sha256).hexdigest()


def new_recovery_codes(user: Any) -> list[str]:
    """Replace the user's recovery codes with ten new ones (about 50 random bits each)."""
    codes = []
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        for _ in range(RECOVERY_CODES):
            raw = secrets.token_hex(5)
            codes.append(f"{raw[:5]}-{raw[5:]}")
        RecoveryCode.objects.bulk_create(
            [RecoveryCode(user=user, code_hash=_hash_recovery_code(code)) for code in codes]
        )
    return codes


def verify(request: HttpRequest, user: Any, code: str, *, now: datetime | None = None) -> str:
    """Accept a TOTP code or an unused recovery code for this login; returns which was used. Both
    outcomes are audited; a failure says nothing about which kind of code was expected."""
    now = now or timezone.now()
    device = device_of(user)
    if device is None or device.confirmed_at is None:
        raise SecondFactorError(gettext_noop("no second factor is set up for this account"))
    try:
        if "-" in code or len(code.strip()) == 10:
            _use_recovery_code(user, code, now)
            used = "recovery_code"
        else:
            _check_code(device, code, now)
            used = "totp"
    except SecondFactorError:
        record(
            request=request,
            actor=user,
            action=Action.LOGIN_FAILED,
            outcome=Outcome.DENIED,
            resource_type="second_factor",
        )
        raise
    request.session[SESSION_KEY] = True
    record(
        request=request, actor=user, action=Action.LOGIN, resource_type="second_factor", detail={"via": used}
    )
    return used


def _use_recovery_code(user: Any, code: str, now: datetime) -> None:
    with transaction.atomic():
        found = (
            RecoveryCode.objects.select_for_update()
            .filter(user=user, code_hash=_hash_recovery_code(code), used_at__isnull=True)
            .first()
        )
        if found is None:
            raise SecondFactorError(gettext_noop("the code is wrong or has expired"))
        found.used_at = now
        found.save(update_fields=["used_at"])


def unused_recovery_codes(user: Any) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def is_verified(request: HttpRequest) -> bool:
    return bool(request.session.get(SESSION_KEY, False))
