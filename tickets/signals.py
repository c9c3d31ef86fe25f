"""What tickets tells the layers above, which listen (DESIGN.md: imports point down).

Sent inside the transaction that made the change, so a listener that writes
(psasync's outbox) commits or rolls back with it.
"""

from django.dispatch import Signal

# kwargs: entry (TimeEntry)
time_entry_recorded = Signal()

# kwargs: entry (TimeEntry, already saved), changed (set of field names).
# A listener may raise ValidationError to refuse the change (it is rolled back).
time_entry_changed = Signal()

# kwargs: entry (TimeEntry, now void). A listener may refuse, as above.
time_entry_voided = Signal()
