"""Celery tasks of the b2b app: they take primitive IDs and call one service."""

from celery import shared_task
from django.db import OperationalError

from b2b.services.codes import codes_adjust_and_record


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    acks_late=True,
)
def contract_codes_adjust(contract_id: int) -> str:
    """Adjust a contract's enrollment codes (SPEC §4) and record what changed in its audit trail.
    Idempotent; retried on database errors that pass (a lost connection, a lock timeout).
    Returns the summary line."""
    return codes_adjust_and_record(contract_id).summary()
