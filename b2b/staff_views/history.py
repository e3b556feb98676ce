"""The contract's history, readable (SPEC §7)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from b2b.models import ContractPage
from b2b.services.audit import AUDIT_ACTIONS, audit_history, changes_text, via_label
from b2b.staff_views.base import page_render, staff_required


@staff_required
def history(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """The contract's audit trail, newest first: when, who, through what, what changed."""
    entries = [
        {
            "at": entry.at,
            "actor": entry.who,
            "via": via_label(entry.via),
            "action": AUDIT_ACTIONS.get(entry.action, entry.action),
            "changes": changes_text(entry.changes),
        }
        for entry in reversed(audit_history(contract.pk))
    ]
    return page_render(request, contract, "history", "history.html", entries=entries)
