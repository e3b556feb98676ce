"""The durable marker that a contract's enrollment codes need adjusting (ARCHITECTURE rule 12).

A change that asks for an adjustment (``codes_adjust_queue``) writes the marker in its own
transaction: committed with the change, rolled back with it. ``codes_adjust`` reads the marker's
request before it reads the contract and clears the marker at its end only if no newer request
came meanwhile (compare-and-clear on ``request_id``). What is left is re-queued by the periodic
task (``b2b.tasks.codes_adjust_requeue``, Celery beat) and reported by ``b2b_check`` once it is
older than ``REQUEUE_PENDING_AFTER``. So an adjustment lost anywhere — a process that died
between the commit and the broker, a worker killed mid-adjustment, a message dropped — is run
again, with no operator.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.utils import timezone

from b2b.models import ContractCodesPending


def requeue_after() -> dt.timedelta:
    """How long a request may wait before it counts as lost (``REQUEUE_PENDING_AFTER``)."""
    return dt.timedelta(seconds=settings.REQUEUE_PENDING_AFTER)


def codes_pending_mark(contract_id: int) -> None:
    """Record that the contract's codes need adjusting, in the caller's transaction.

    One statement (an upsert): the first request sets ``requested_on``; each request, the
    first included, sets a new ``request_id``. Asking twice in one transaction leaves one marker.
    """
    ContractCodesPending.objects.bulk_create(
        [
            ContractCodesPending(
                contract_id=contract_id, requested_on=timezone.now(), request_id=uuid.uuid4()
            )
        ],
        update_conflicts=True,
        unique_fields=["contract"],
        update_fields=["request_id"],
    )


def codes_pending_request(contract_id: int) -> uuid.UUID | None:
    """The latest request on the contract's marker, or None when none is pending; one query.

    The adjustment reads it before it reads the contract: a change committed after this read
    has a newer request, and keeps the marker when the adjustment clears.
    """
    return (
        ContractCodesPending.objects.filter(contract_id=contract_id)
        .values_list("request_id", flat=True)
        .first()
    )


def codes_pending_clear(contract_id: int, request_id: uuid.UUID | None) -> bool:
    """Delete the contract's marker if its latest request is still ``request_id`` (the one the
    adjustment read before it started); True if it was deleted. One statement; nothing when
    ``request_id`` is None."""
    if request_id is None:
        return False
    deleted, _ = ContractCodesPending.objects.filter(
        contract_id=contract_id, request_id=request_id
    ).delete()
    return bool(deleted)


def codes_pending_overdue(
    contract_ids: list[int] | None = None, *, now: dt.datetime | None = None
) -> dict[int, dt.datetime]:
    """Contracts whose codes have waited for their adjustment longer than
    ``REQUEUE_PENDING_AFTER``: ``{contract ID: requested_on}``, oldest first; one query.

    ``contract_ids`` limits it to those contracts (``b2b_check``'s scope); None: all.
    """
    cutoff = (now or timezone.now()) - requeue_after()
    queryset = ContractCodesPending.objects.filter(requested_on__lt=cutoff)
    if contract_ids is not None:
        queryset = queryset.filter(contract_id__in=contract_ids)
    return dict(
        queryset.order_by("requested_on", "contract_id").values_list("contract_id", "requested_on")
    )
