"""The contract's enrollment codes: listing with filter and search, the codes CSV (the command's
bytes), deactivation of leaked codes."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from wagtail.admin import messages

from b2b.models import ContractPage
from b2b.services.code_operations import code_status, codes_deactivate
from b2b.services.codes import codes_csv_chunks
from b2b.services.overview import contract_codes
from b2b.staff_views.base import CODES_PER_PAGE, STATUSES, page_render, page_url, staff_required
from ecommerce.models import DiscountProduct
from main.exceptions import DomainError


@staff_required
def codes(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """The contract's enrollment codes, 50 a page, by status and searched by code text; select
    codes to deactivate (a confirmation follows)."""
    status = request.GET.get("status", "")
    query = request.GET.get("q", "").strip()
    rows = contract_codes(contract.pk).distinct()
    if status == "usable":
        rows = rows.usable()
    elif status == "redeemed":
        rows = rows.redeemed()
    elif status == "deactivated":
        rows = rows.filter(is_active=False)
    elif status:
        messages.error(
            request, f"Unknown status {status!r}: choose usable, redeemed or deactivated."
        )
        status = ""
    if query:
        rows = rows.filter(discount_code__icontains=query)
    rows = rows.annotate(used=Count("redemptions", distinct=True)).order_by("pk")
    pages = Paginator(rows, CODES_PER_PAGE)
    page = pages.get_page(request.GET.get("p"))
    products = {
        link.discount_id: link.product.description
        for link in DiscountProduct.objects.filter(
            discount__in=list(page.object_list), product__course_run__b2b_contract=contract
        ).select_related("product")
    }
    listing = [
        {
            "code": code.discount_code,
            "product": products.get(code.pk, "—"),
            "status": code_status(
                is_active=code.is_active,
                redemption_type=code.redemption_type,
                redemptions=code.used,
            ),
            "type": code.get_redemption_type_display(),
            "amount": code.amount,
        }
        for code in page.object_list
    ]
    return page_render(
        request,
        contract,
        "codes",
        "codes.html",
        page=page,
        listing=listing,
        # The deactivate button only where a code on the page can be ticked (a usable one).
        selectable=any(row["status"] == "usable" for row in listing),
        status=status,
        statuses=STATUSES,
        query=query,
        total=pages.count,
        csv_url=page_url("codes_csv", contract),
        deactivate_url=page_url("codes_deactivate", contract),
        previous_url=page_url("codes", contract, status=status, q=query, p=page.number - 1),
        next_url=page_url("codes", contract, status=status, q=query, p=page.number + 1),
    )


@staff_required
def codes_csv(request: HttpRequest, contract: ContractPage) -> StreamingHttpResponse:
    """The codes CSV, streamed: the same bytes ``b2b_list contracts --codes ID`` writes."""
    response = StreamingHttpResponse(
        (chunk.encode() for chunk in codes_csv_chunks(contract)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="codes-{contract.pk}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@staff_required
def codes_deactivate_view(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """POST ``code`` (one or more): confirm page; POST with ``confirm``: deactivate them
    (``codes_deactivate``; a capped contract gets fresh codes by the code adjustment)."""
    if request.method != "POST":
        return redirect(page_url("codes", contract))
    texts = [t.strip() for t in request.POST.getlist("code") if t.strip()]
    if not texts:
        messages.error(request, "Select the codes to deactivate first.")
        return redirect(page_url("codes", contract))
    mine = set(
        contract_codes(contract.pk)
        .filter(discount_code__in=texts)
        .values_list("discount_code", flat=True)
    )
    foreign = [t for t in texts if t not in mine]
    if foreign:
        messages.error(
            request,
            f"Not codes of this contract: {', '.join(foreign)}. Nothing was deactivated.",
        )
        return redirect(page_url("codes", contract))
    if "confirm" not in request.POST:
        return page_render(request, contract, "codes", "codes_deactivate.html", texts=texts)
    try:
        result = codes_deactivate(texts)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(page_url("codes", contract))
    fresh = " The contract is capped: fresh codes replace them." if contract.max_learners else ""
    messages.success(
        request,
        f"Deactivated {result.deactivated} code{'s' if result.deactivated != 1 else ''}: "
        f"{', '.join(result.outcomes)}.{fresh}",
    )
    return redirect(page_url("codes", contract, status="deactivated"))
