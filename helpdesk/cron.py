"""Periodic jobs, run by `manage.py rqcron helpdesk/cron.py` (one process per deployment)."""

from rq import cron

from psasync.sweeper import requeue_stale_writebacks
from tickets.intake.sweeper import requeue_stale_inbound
from tickets.sla_watch import flag_sla_states

cron.register(requeue_stale_inbound, "intake", interval=120, name="requeue-stale-inbound")
cron.register(flag_sla_states, "default", interval=60, name="flag-sla-states")
cron.register(requeue_stale_writebacks, "psa", interval=60, name="requeue-stale-writebacks")
