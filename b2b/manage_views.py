"""The managers' portal (SPEC §9): ``/manage/``, server-rendered, in the learner pages' look.

``/manage/`` lists the organizations the signed-in person manages and their contracts with seats
(attached, held, free, cap) and codes. ``/manage/contracts/<id>/`` is one contract: its seats,
then its learners (``?tab=learners``, filter ``q``, ``source``) or its codes (``?tab=codes``,
filter ``status``), 50 a page, each list as CSV (``?format=csv``, the filters kept). A contract
of an organization the person does not manage is a 404, the same as one that does not exist.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from b2b.services.managers import managed_organizations
from b2b.services.portal import (
    CODE_KEYS,
    CODE_STATUSES,
    LEARNER_KEYS,
    SOURCES,
    code_rows,
    contract_code_list,
    contract_learners,
    contract_seats,
    learner_rows,
    manager_contract,
    organization_contracts,
)
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
    tab = "codes" if request.GET.get("tab") == "codes" else "learners"
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
    else:
        filters = {"status": _choice(request.GET.get("status", ""), CODE_STATUSES)}
        codes = contract_code_list(found, status=filters["status"])
        if as_csv:
            return csv_response(
                f"codes-{found.pk}.csv",
                ["Code", "Run", "Title", "Status"],
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
