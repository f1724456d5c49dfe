"""`jiayi token create|revoke|list`: bearer tokens for the REST API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from jiayi.registry import tokens
from jiayi.registry.models import ApiToken


class Command(BaseCommand):
    help = "Create, revoke and list API tokens. A new token is printed once and never stored."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{create,revoke,list}")
        create = actions.add_parser("create", help="issue a token for a user")
        create.add_argument("--user", required=True, help="username the token acts as")
        create.add_argument("--scopes", default=tokens.READ, help="read or read,write (default: read)")
        create.add_argument("--days", type=int, default=30, help="days until it expires (default: 30)")
        create.add_argument("--name", default="", help="what the token is for")
        revoke = actions.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix", help="the 8 characters before the dot")
        actions.add_parser("list", help="list tokens (never their secrets)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "create":
                self._create(options)
            elif action == "revoke":
                token = tokens.revoke_token(options["prefix"])
                self.stdout.write(f"revoked {token.prefix} ({token.user.get_username()})")
            else:
                self._list()
        except tokens.TokenError as exc:
            raise CommandError(str(exc)) from exc

    def _create(self, options: dict[str, Any]) -> None:
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']}")
        token, text = tokens.issue_token(
            user, scopes=options["scopes"], days=options["days"], name=options["name"]
        )
        self.stdout.write(text)
        self.stderr.write(
            f"token {token.prefix} for {user.get_username()} ({token.scopes}), expires "
            f"{token.expires_at:%Y-%m-%d %H:%M %Z}. It is shown only now: store it safely."
        )

    def _list(self) -> None:
        now = timezone.now()
        rows = ApiToken.objects.select_related("user").order_by("created_at")
        self.stdout.write(f"{'prefix':8}  {'user':16}  {'scopes':10}  {'status':7}  {'expires':10}  name")
        for token in rows:
            self.stdout.write(
                f"{token.prefix:8}  {token.user.get_username():16}  {token.scopes:10}  "
                f"{tokens.token_status(token, now):7}  {token.expires_at:%Y-%m-%d}  {token.name}"
            )
