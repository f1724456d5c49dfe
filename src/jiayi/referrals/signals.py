"""Signals the referrals app sends for other apps to follow."""

from __future__ import annotations

from django.dispatch import Signal

# Sent with `hospital_ids` (a list of institution ids) after appointment statuses change through
# queryset updates (cancel, no-show, expired holds), which send no `post_save`. Receivers run inside
# the writer's transaction, so the indicator figures move with the appointment.
slots_changed = Signal()
