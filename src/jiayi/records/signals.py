"""Signals of the health account's bulk writes.

Imports store entries with multi-row statements, which send no `post_save` per row. Code that must
react to stored entries (facts for indicators, health points for self-measurements) listens to
`entries_written` instead: one signal per model and chunk, with the entries as stored.
"""

from __future__ import annotations

from django.dispatch import Signal

# sender: the model; instances: the entries written (with pks); created: True for new entries, False
# for updated ones.
entries_written = Signal()
