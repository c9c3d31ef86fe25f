"""What tickets tells the layers above, which listen (DESIGN.md: imports point down).

Sent inside the transaction that made the change, so a listener that writes
(psasync's outbox) commits or rolls back with it.
"""

from django.dispatch import Signal

# kwargs: entry (TimeEntry)
time_entry_recorded = Signal()
