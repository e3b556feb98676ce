"""The managers' portal (SPEC §9): ``/manage/``, server-rendered, in the learner pages' look.

``/manage/`` lists the organizations the signed-in person manages and their contracts with seats
(attached, held, free, cap) and codes. ``/manage/contracts/<id>/`` is one contract: its seats,
then its learners (``?tab=learners``, filter ``q``, ``source``) or its codes (``?tab=codes``,
filter ``status``), 50 a page, each list as CSV (``?format=csv``, the filters kept). A contract
of an organization the person does not manage is a 404, the same as one that does not exist.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from b2b.models import SeatAssignment
from b2b.services.assignment_actions import (
    assignment_reassign,
    assignment_remind,
    assignment_revoke,
)
from b2b.services.assignments import assignment_rows_read, seats_assign
from b2b.services.managers import managed_organizations
from b2b.services.portal import (
    ASSIGNMENT_KEYS,
    ASSIGNMENT_STATUSES,
    CODE_KEYS,
    CODE_STATUSES,
    LEARNER_KEYS,
    SOURCES,
    assignment_rows,
    code_rows,
    contract_assignments,
    contract_code_list,
    contract_learners,
    contract_seats,
    learner_rows,
    manager_contract,
    organization_contracts,
)
from main.actors import actor_current
from main.api import refusal_status
from main.exceptions import DomainError
from main.exports import csv_writer
from main.http import AuthenticatedHttpRequest

PER_PAGE = 50


@require_GET
@login_required
def manage(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The person's organizations and their contracts (none: a page saying so)."""
    organizations = [
        {"organization": o, "contracts": organization_contracts(o)}
        for o in managed_organizations(request.user)
    ]
    return render(request, "b2b/manage/index.html", {"organizations": organizations})


class _Lines:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text


def csv_response(filename: str, header: list[str], rows: Any) -> StreamingHttpResponse:
    """``rows`` (lists of cells) as a streamed CSV download, formulas neutralised
    (``main.exports.csv_writer``)."""

    def lines() -> Any:
        out = _Lines()
        writer = csv_writer(out)  # type: ignore[arg-type]
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            if len(out.text) > 65536:
                yield out.text.encode()
                out.text = ""
        yield out.text.encode()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _choice(value: str, choices: tuple[str, ...]) -> str:
    return value if value in choices else ""


@require_GET
@login_required
def contract(request: AuthenticatedHttpRequest, contract_id: int) -> HttpResponse:
    """One contract: seats, and its learners or codes, filtered, paginated, or as CSV."""
    found = manager_contract(request.user, contract_id)
    if found is None:
        raise Http404("No contract of yours has this ID.")
    tab = request.GET.get("tab", "")
    tab = tab if tab in ("learners", "codes", "assignments") else "learners"
    as_csv = request.GET.get("format") == "csv"
    filters: dict[str, str]
    if tab == "learners":
        filters = {
            "q": request.GET.get("q", "").strip()[:100],
            "source": _choice(request.GET.get("source", ""), SOURCES),
        }
        learners = contract_learners(found, search=filters["q"], source=filters["source"])
        if as_csv:
            return csv_response(
                f"learners-{found.pk}.csv",
                ["Email", "Name", "Source", "Since", "Enrolled runs"],
                (
                    [
                        r["email"],
                        r["name"],
                        r["source"],
                        r["since"],
                        " ".join(e["run"] for e in r["enrollments"] if e["active"]),
                    ]
                    for chunk in _chunks(learners)
                    for r in learner_rows(found, chunk)
                ),
            )
        page = Paginator(learners, PER_PAGE).get_page(request.GET.get("page"))
        rows = learner_rows(found, list(page.object_list))
    elif tab == "assignments":
        filters = {
            "q": request.GET.get("q", "").strip()[:100],
            "status": _choice(request.GET.get("status", ""), ASSIGNMENT_STATUSES),
        }
        assignments = contract_assignments(found, status=filters["status"], search=filters["q"])
        if as_csv:
            return csv_response(
                f"assignments-{found.pk}.csv",
                ["Email", "Name", "Status", "Assigned on", "Reminders", "Mail"],
                (
                    [r[k] for k in ASSIGNMENT_KEYS[1:]]
                    for r in assignment_rows(assignments.iterator(chunk_size=1000))
                ),
            )
        page = Paginator(assignments, PER_PAGE).get_page(request.GET.get("page"))
        rows = assignment_rows(page.object_list)
    else:
        filters = {"status": _choice(request.GET.get("status", ""), CODE_STATUSES)}
        codes = contract_code_list(found, status=filters["status"])
        if as_csv:
            return csv_response(
                f"codes-{found.pk}.csv",
                ["Code", "Run", "Title", "Status", "Assigned to"],
                ([r[k] for k in CODE_KEYS] for r in code_rows(codes.iterator())),  # type: ignore[arg-type]
            )
        page = Paginator(codes, PER_PAGE).get_page(request.GET.get("page"))
        rows = code_rows(list(page.object_list))
    query = {"tab": tab, **{k: v for k, v in filters.items() if v}}
    return render(
        request,
        "b2b/manage/contract.html",
        {
            "contract": found,
            "seats": contract_seats(found),
            "tab": tab,
            "filters": filters,
            "sources": SOURCES,
            "statuses": CODE_STATUSES,
            "assignment_statuses": ASSIGNMENT_STATUSES,
            "rows": rows,
            "page": page,
            "query": urlencode(query),
            "csv_query": urlencode({**query, "format": "csv"}),
            "learner_keys": LEARNER_KEYS,
        },
    )


def _chunks(queryset: Any, size: int = 1000) -> Any:
    batch: list[Any] = []
    for row in queryset.iterator(chunk_size=size):
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class AssignForm(forms.Form):
    """Emails typed (one per line, ``email[,name]``) or a CSV file of them."""

    emails = forms.CharField(
        label="Email addresses",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One per line, optionally followed by a comma and the person's name.",
    )
    file = forms.FileField(
        label="Or a CSV file",
        required=False,
        help_text="Columns: email, name (the name is optional; a header row is fine).",
    )

    def rows(self) -> list[tuple[str, str]]:
        upload = self.cleaned_data.get("file")
        if upload is not None:
            if upload.size > MAX_UPLOAD:
                raise forms.ValidationError(
                    f"The file is over {MAX_UPLOAD // 1_000_000} MB: split it into smaller files."
                )
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError(
                    "The file is not UTF-8 text: save it as “CSV UTF-8” and upload it again."
                ) from None
        else:
            text = self.cleaned_data.get("emails") or ""
        rows = assignment_rows_read(text)
        if not rows:
            raise forms.ValidationError("Give at least one email address, or a CSV file of them.")
        return rows


MAX_UPLOAD = 5_000_000


@login_required
@require_http_methods(["GET", "POST"])
def assign(request: AuthenticatedHttpRequest, contract_id: int) -> HttpResponse:
    """Assign seats by email: the form; POST previews each row's outcome; POST ``apply`` with
    the previewed rows assigns them and shows what happened to each."""
    found = manager_contract(request.user, contract_id)
    if found is None:
        raise Http404("No contract of yours has this ID.")
    form = AssignForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {"contract": found, "form": form, "seats": contract_seats(found)}
    status = 200
    if request.method == "POST":
        try:
            if "apply" in request.POST:
                rows = assignment_rows_read(request.POST.get("rows", ""))
                report = seats_assign(found.pk, rows, apply=True, actor=actor_current())
            else:
                if not form.is_valid():
                    raise forms.ValidationError("Check the form.")
                rows = form.rows()
                report = seats_assign(found.pk, rows, apply=False, actor=actor_current())
                context["rows_text"] = rows_text(rows)
        except forms.ValidationError as exc:
            form.add_error(None, exc)
            status = 400
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = refusal_status(exc)
        else:
            context.update(
                report=report,
                counts=report.counts,
                no_seat=report.count("no-seat"),
                seats=contract_seats(found),
            )
    return render(request, "b2b/manage/assign.html", context, status=status)


def rows_text(rows: list[tuple[str, str]]) -> str:
    """Rows back to CSV text (``email,name``), carried from the preview to the assignment."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(rows)
    return out.getvalue()


@require_POST
@login_required
def assignment_action(
    request: AuthenticatedHttpRequest, contract_id: int, assignment_id: int, action: str
) -> HttpResponse:
    """Remind, revoke or reassign (``new_email``, ``name``) one seat of the contract; the
    outcome is a message on its Seats assigned list."""
    found = manager_contract(request.user, contract_id)
    assignment = (
        SeatAssignment.objects.filter(pk=assignment_id, contract_id=contract_id).first()
        if found is not None
        else None
    )
    if found is None or assignment is None or action not in ("remind", "revoke", "reassign"):
        raise Http404("No seat of yours has this ID.")
    actor = actor_current()
    try:
        if action == "remind":
            assignment_remind(found.pk, assignment.email, actor=actor)
            text = f"The invitation was sent again to {assignment.email}."
        elif action == "revoke":
            assignment_revoke(found.pk, assignment.email, actor=actor)
            text = f"The seat of {assignment.email} is free again; its link no longer works."
        else:
            new_email = request.POST.get("new_email", "")
            report = assignment_reassign(
                found.pk,
                assignment.email,
                new_email,
                name=request.POST.get("name", ""),
                actor=actor,
            )
            outcome = report.rows[0].outcome
            text = (
                f"The seat of {assignment.email} now goes to {report.rows[0].email}: "
                "invitation sent."
                if outcome == "assigned"
                else f"The seat of {assignment.email} was revoked, but {new_email}: {outcome}."
            )
    except DomainError as exc:
        messages.error(request, exc.message, extra_tags=exc.code)
    else:
        messages.success(request, text, extra_tags=action)
    return redirect(f"{reverse('manage-contract', args=[found.pk])}?tab=assignments")
