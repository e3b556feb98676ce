"""Celery: the broker (none: eager), acknowledgement, and the periodic work Celery beat runs
(README "After a crash")."""

from main.settings.core import BASE_DIR, TIME_ZONE, env, seconds_from_env

# Celery: no broker means eager, in-process execution (tasks are still queued on commit).
CELERY_TASK_ALWAYS_EAGER = not env.str("CELERY_BROKER_URL", default="")
# An eager app never talks to its broker; "memory://" keeps kombu from looking for one.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
# The queue tasks go to and workers read (one per deployment, or per test run sharing a broker).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Periodic work, run by Celery beat (``make worker`` starts it with the worker): each job is
# idempotent, so a beat that fires twice changes nothing more.


# Durable intent (ARCHITECTURE rule 12; the README's "After a crash"). A change that needs
# follow-up work records it in its own transaction (a code adjustment's marker, a run's or an
# enrollment's edx_status pending); Celery beat runs the re-queue tasks every
# REQUEUE_PENDING_AFTER seconds, and they queue again what has waited longer than that. b2b_check
# reports a code adjustment pending longer than that. Each re-queued message expires after one
# period, so a stopped worker does not come back to a pile of copies.
REQUEUE_PENDING_AFTER = seconds_from_env("REQUEUE_PENDING_AFTER", 300)
# Seats assigned by email (SPEC §9): an unused seat's invitation is sent again after
# SEAT_REMINDER_AFTER_DAYS days, at most SEAT_REMINDER_MAX times; beat looks every
# SEAT_REMINDER_EVERY seconds (hourly by default).
SEAT_REMINDER_AFTER_DAYS = env.int("SEAT_REMINDER_AFTER_DAYS", default=3)
SEAT_REMINDER_MAX = env.int("SEAT_REMINDER_MAX", default=2)
SEAT_REMINDER_EVERY = seconds_from_env("SEAT_REMINDER_EVERY", 3600)
# Staff addresses that get every contract's seat and end-date alerts, besides its managers.
B2B_ALERT_EMAILS = env.list("B2B_ALERT_EMAILS", default=[])
CONTRACT_ALERTS_EVERY = seconds_from_env("CONTRACT_ALERTS_EVERY", 3600)
CELERY_BEAT_SCHEDULE = {
    "contract-alerts": {
        "task": "b2b.tasks.contract_alerts",
        "schedule": CONTRACT_ALERTS_EVERY,
        "options": {"expires": CONTRACT_ALERTS_EVERY},
    },
    "seats-remind": {
        "task": "b2b.tasks.seats_remind",
        "schedule": SEAT_REMINDER_EVERY,
        "options": {"expires": SEAT_REMINDER_EVERY},
    },
    # Mails whose task was lost (a broker or a process down after the commit) or is overdue.
    "mail-requeue": {
        "task": "main.tasks.mail_requeue",
        "schedule": REQUEUE_PENDING_AFTER,
        "options": {"expires": REQUEUE_PENDING_AFTER},
    },
    "codes-adjust-requeue": {
        "task": "b2b.tasks.codes_adjust_requeue",
        "schedule": REQUEUE_PENDING_AFTER,
        "options": {"expires": REQUEUE_PENDING_AFTER},
    },
    "edx-syncs-requeue": {
        "task": "openedx.tasks.edx_syncs_requeue",
        "schedule": REQUEUE_PENDING_AFTER,
        "options": {"expires": REQUEUE_PENDING_AFTER},
    },
}
# Where beat keeps the time of each entry's last run (`make worker` runs beat with the worker).
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(BASE_DIR / "celerybeat-schedule")
)
# Redis: a message a worker took but never acknowledged (acks_late: the worker died) goes back to
# the queue after this many seconds. It must outlast the longest task, or a second worker starts
# it while the first still runs (harmless, the tasks are idempotent, but wasted). The longest is
# the adjustment of the largest contract: 100,000 learners × 50 courses = 5,000,000 codes; at the
# measured 15 s per 500,000 codes generated (`make bench`) that is about 150 s, plus as much again
# for a second delivery waiting on the contract's code lock. 900 s leaves three times that and
# covers the longest retry countdown (300 s). Beat re-queues lost adjustments sooner anyway.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": seconds_from_env("CELERY_VISIBILITY_TIMEOUT", 900),
}
