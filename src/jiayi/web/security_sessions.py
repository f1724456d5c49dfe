"""Database sessions with an idle timeout that does not cost a write on every request.

SESSION_SAVE_EVERY_REQUEST renews the session on each request, so it ends SESSION_COOKIE_AGE after
the last one (等保: idle sessions end). Writing the row every time would add queries to every page and
API call; this store skips the write while the stored expiry is less than a minute old, so the idle
timeout is exact to within that minute.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

RENEW_AFTER = timedelta(seconds=60)


class SessionStore(DatabaseSessionStore):
    _stored_expiry: datetime | None = None

    def _get_session_from_db(self) -> Any:
        session = super()._get_session_from_db()  # type: ignore[misc]  # not in django-stubs
        self._stored_expiry = session.expire_date if session is not None else None
        return session

    def save(self, must_create: bool = False) -> None:
        if not must_create and not self.modified and self._stored_expiry is not None:
            renewed = timezone.now() + timedelta(seconds=self.get_session_cookie_age())
            if renewed - self._stored_expiry < RENEW_AFTER:
                return
        super().save(must_create)
        self._stored_expiry = None
