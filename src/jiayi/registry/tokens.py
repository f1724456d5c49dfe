"""API authentication: bearer tokens for programs, the login session (with CSRF) for the browser.

A token reads `<prefix>.<secret>`. Only the prefix (to find the row) and a SHA-256 of the secret are
stored, so a database leak does not leak usable tokens; the secret is shown once, when issued. The
secret has 256 random bits, so an unsalted fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import AuthorizationError
from ninja.security import APIKeyCookie, HttpBearer

from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.registry.models import ApiToken

READ = "read"
WRITE = "write"
SCOPES = (READ, WRITE)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TOKEN_SHAPE = re.compile(r"^([0-9a-f]{8})\.([A-Za-z0-9_-]{43})$")
# Compared against when the prefix is unknown, so a miss costs the same as a wrong secret.
_NO_SUCH_TOKEN = hashlib.sha256(b"no such token").hexdigest()
# Recording every use would turn each API read into a write; a coarse "last used" is enough.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class TokenError(ValueError):
    """A token cannot be issued or revoked as asked."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(value: str | Iterable[str]) -> list[str]:
    """Scopes from "read,write" (or a list); write implies read, because a writer must see what it wrote."""
    names = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    unknown = sorted(set(names) - set(SCOPES))
    if unknown:
        raise TokenError(f"unknown scope {', '.join(unknown)}; use {' or '.join(SCOPES)}")
    if not names:
        raise TokenError("at least one scope is required")
    if WRITE in names:
        names.append(READ)
    return [scope for scope in SCOPES if scope in names]


def scopes_of(token: ApiToken) -> frozenset[str]:
    return frozenset(token.scopes.split())


def issue_token(
    user: User, *, scopes: str | Iterable[str], days: int, name: str = "", now: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the row and the token text, which is not stored anywhere."""
    if days < 1:
        raise TokenError("a token must be valid for at least one day")
    scope_list = parse_scopes(scopes)
    now = now or timezone.now()
    for _attempt in range(5):
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    user=user,
                    name=name or f"token for {user.get_username()}",
                    prefix=prefix,
                    secret_hash=hash_secret(secret),
                    scopes=" ".join(scope_list),
                    expires_at=now + timedelta(days=days),
                )
                record(
                    actor=None,
                    action=Action.CREATE,
                    resource_type="api_token",
                    resource_id=prefix,
                    detail={"user": user.get_username(), "scopes": scope_list, "days": days},
                )
        except IntegrityError:
            continue  # two tokens drew the same 32-bit prefix; draw again
        return token, f"{prefix}.{secret}"
    raise TokenError("could not draw an unused token prefix")


def revoke_token(prefix: str, *, actor: User | None = None, now: datetime | None = None) -> ApiToken:
    """Revoke a token by its prefix (idempotent: revoking twice keeps the first time)."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(prefix=prefix).first()
        if token is None:
            raise TokenError(f"no token with prefix {prefix}")
        if token.revoked_at is None:
            token.revoked_at = now or timezone.now()
            token.save(update_fields=["revoked_at"])
            record(
                actor=actor,
                action=Action.DELETE,
                resource_type="api_token",
                resource_id=prefix,
                detail={"user": token.user.get_username()},
            )
    return token


def token_status(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= now:
        return "expired"
    return "active"


def find_token(raw: str, *, now: datetime | None = None) -> ApiToken | None:
    """The active token `raw` stands for, or None; the secret is compared in constant time."""
    match = _TOKEN_SHAPE.match(raw.strip())
    if match is None:
        return None
    prefix, secret = match.groups()
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    stored = token.secret_hash if token is not None else _NO_SUCH_TOKEN
    if not hmac.compare_digest(stored, hash_secret(secret)) or token is None:
        return None
    now = now or timezone.now()
    if token_status(token, now) != "active" or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`. Reads need the read scope, anything else the write scope,
    unless an operation that only reads (a search sent as POST) asks for `scope=READ`."""

    def __init__(self, scope: str | None = None) -> None:
        self.scope = scope
        super().__init__()

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        api_token = find_token(token)
        if api_token is None:
            return None
        needed = self.scope or (READ if request.method in SAFE_METHODS else WRITE)
        if needed not in scopes_of(api_token):
            raise AuthorizationError(message=f"this token lacks the {needed} scope")
        # Downstream code (access policy, audit) asks request.user, as for a browser session.
        request.user = api_token.user
        return api_token.user


class SessionAuth(APIKeyCookie):
    """The browser's login session. Unsafe methods need the CSRF token, as on every form."""

    param_name: str = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        # Without a logged-in user there is nothing to protect: answer 401, not a CSRF 403.
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)  # type: ignore[no-any-return]

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return request.user if request.user.is_authenticated else None


def api_auth(scope: str | None = None) -> list[Any]:
    """The authentication of API operations: a bearer token first (no CSRF: it is not ambient), then
    the session."""
    return [ApiTokenAuth(scope), SessionAuth()]
