"""The cart pages (SPEC §5): server-rendered, each view parses, calls one service, renders.

``/cart/add/?product_id=N`` (the Product URL of the codes CSV) empties the basket and adds the
product; ``/cart/`` shows it; ``/cart/code/`` applies a code; ``/checkout/`` checks out (a zero
total lands on the dashboard, a priced one goes to the payment gateway); ``/checkout/result/``
and ``/checkout/backoffice/`` take the gateway's signed responses.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from ecommerce.exceptions import ProductNotFound
from ecommerce.models import Order
from ecommerce.services.basket import (
    basket_code_apply,
    basket_code_remove,
    basket_replace,
    basket_summary,
)
from ecommerce.services.checkout import basket_checkout, payment_response_apply
from ecommerce.throttles import code_attempt_check
from main.api import refusal_headers, refusal_status
from main.exceptions import DomainError
from main.http import AuthenticatedHttpRequest
from main.params import id_param, id_parse
from main.security import client_ip, csp_allow_form_action

log = logging.getLogger(__name__)


def _refuse(request: HttpRequest, refusal: DomainError) -> None:
    """Show a refusal on the next page: its message, tagged with its stable code."""
    messages.error(request, refusal.message, extra_tags=refusal.code)


#: What ``?order=`` says when it is not an order number (the cart and the dashboard).
ORDER_PARAM_MESSAGE = (
    "The address names order {value!r}, which is not an order number: open your cart or "
    "My courses from the menu."
)


#: A Product URL whose ``product_id`` is not an ID (words for the learner, no URL syntax).
BAD_LINK_MESSAGE = (
    "This course link is incomplete: open it exactly as you were given it (the whole link), or "
    "ask the organization that gave it to you for a new one."
)


def _cart_page(
    request: AuthenticatedHttpRequest,
    *,
    link_refused: bool = False,
    order_id: int | None = None,
    code_error: DomainError | None = None,
    code_value: str = "",
    status: int = 200,
) -> HttpResponse:
    order = None
    if order_id is not None:
        order = Order.objects.filter(pk=order_id, purchaser=request.user).first()
    return render(
        request,
        "ecommerce/cart.html",
        {
            "summary": None if link_refused else basket_summary(request.user),
            "code_error": code_error,
            "code_value": code_value,
            "order": order,
        },
        status=status,
    )


@require_GET
@login_required
def cart_add(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The Product URL: empty the basket, add the product, show the cart. Refused (a malformed
    or unknown product, one not on sale), the cart is shown with the reason at its 4xx status
    and the basket is left as it was."""
    raw = request.GET.get("product_id", "").strip()
    try:
        try:
            product_id = id_parse(raw)
        except ValueError:
            raise ProductNotFound(BAD_LINK_MESSAGE) from None
        basket_replace(request.user, product_id=product_id)
    except DomainError as refusal:
        _refuse(request, refusal)
        # The reason alone: not the basket's earlier product, which would read as this link's.
        return _cart_page(request, link_refused=True, status=refusal_status(refusal))
    return redirect("cart")


@require_GET
@login_required
def cart(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The cart; ``?order=<id>`` adds a note about that order of the learner's (declined,
    canceled, pending). A malformed ``order`` is refused: the cart with the reason, 400."""
    try:
        order_id = id_param(request.GET, "order", message=ORDER_PARAM_MESSAGE)
    except DomainError as refusal:
        _refuse(request, refusal)
        return _cart_page(request, status=refusal_status(refusal))
    return _cart_page(request, order_id=order_id)


@require_POST
@login_required
def cart_code(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Apply a code; refused, the cart is shown again with the reason next to the field (too
    many attempts: 429 with ``Retry-After``, see ``ecommerce.throttles``)."""
    code = request.POST.get("code", "")
    try:
        code_attempt_check(request)
        summary = basket_code_apply(request.user, code=code)
    except DomainError as refusal:
        response = _cart_page(
            request, code_error=refusal, code_value=code[:200], status=refusal_status(refusal)
        )
        for name, value in refusal_headers(refusal).items():
            response[name] = value
        return response
    assert summary.discount is not None
    messages.success(
        request, f"Code {summary.discount.discount_code} applied.", extra_tags="code-applied"
    )
    return redirect("cart")


@require_POST
@login_required
def cart_code_remove(request: AuthenticatedHttpRequest) -> HttpResponse:
    basket_code_remove(request.user)
    messages.info(request, "The code was removed from your cart.", extra_tags="code-removed")
    return redirect("cart")


@require_POST
@login_required
def checkout(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Check out: fulfilled → the dashboard; pending → the gateway; refused → the cart."""
    try:
        result = basket_checkout(request.user, ip_address=client_ip(request))
    except DomainError as refusal:
        _refuse(request, refusal)
        return redirect("cart")
    if result.payment is None:
        return HttpResponseRedirect(f"{reverse('dashboard')}?order={result.order.pk}")
    page = render(
        request,
        "ecommerce/payment_redirect.html",
        {"order": result.order, "payment": result.payment},
    )
    return csp_allow_form_action(page, result.payment.url)  # its form posts to the gateway


def _apply_response(request: HttpRequest) -> Order | HttpResponse:
    try:
        outcome = payment_response_apply(request.POST.dict())
    except DomainError as refusal:
        log.warning("Payment response refused (%s): %s", refusal.code, refusal.message)
        return render(
            request,
            "ecommerce/payment_error.html",
            {"refusal": refusal},
            status=refusal_status(refusal),
        )
    return outcome.order


@csrf_exempt  # the gateway posts here; the signature is the check
@require_POST
def checkout_result(request: HttpRequest) -> HttpResponse:
    """Where the gateway sends the learner back (receipt or cancel page), with signed fields.

    The learner's session cookie does not come with this cross-site post, so the page does not
    depend on it: it applies the signed response and redirects to a page that does.
    """
    result = _apply_response(request)
    if isinstance(result, HttpResponse):
        return result
    if result.state in (Order.State.FULFILLED, Order.State.PENDING):
        return HttpResponseRedirect(f"{reverse('dashboard')}?order={result.pk}")
    return HttpResponseRedirect(f"{reverse('cart')}?order={result.pk}")


@csrf_exempt  # the gateway's server-to-server post; the signature is the check
@require_POST
def checkout_backoffice(request: HttpRequest) -> HttpResponse:
    result = _apply_response(request)
    if isinstance(result, HttpResponse):
        return result
    return HttpResponse(f"order {result.pk} {result.state}\n", content_type="text/plain")
