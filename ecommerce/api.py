"""The cart as a JSON API (SPEC §5): the same services as the cart pages.

``GET /api/v0/basket/``, ``POST /api/v0/basket/items/`` ``{"product_id": N}`` (replaces the
basket), ``POST /api/v0/basket/code/`` ``{"code": "..."}``, ``DELETE /api/v0/basket/code/``,
``POST /api/v0/checkout/`` (optionally ``{"code": "..."}``: apply and check out in one request)
→ ``{"order_id", "status", "payment"}``, ``GET /api/v0/orders/<id>/``.
Session authentication with CSRF; refusals are 4xx ``{"code", "message"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from ecommerce.models import Order
from ecommerce.services.basket import (
    BasketSummary,
    basket_code_apply,
    basket_code_remove,
    basket_replace,
    basket_summary,
)
from ecommerce.services.checkout import CheckoutResult, basket_checkout, order_get
from ecommerce.throttles import code_attempt_check
from main.api import DomainAPIView, IdField, RefusalSerializer
from main.http import AuthenticatedRequest
from main.security import client_ip


def _money(value: Any) -> str:
    return f"{value:.2f}"


# -- serializers (output shapes; documented in the OpenAPI schema) --------------------------------


class BasketItemSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    description = serializers.CharField()
    course_title = serializers.CharField()
    run = serializers.CharField(help_text="The course run's courseware ID.")
    price = serializers.CharField(help_text="Decimal string, 2 places.")
    discounted_price = serializers.CharField(help_text="With the applied code; 2 places.")


class BasketSerializer(serializers.Serializer):
    items = BasketItemSerializer(many=True)
    code = serializers.CharField(allow_null=True, help_text="The applied code, or null.")
    total = serializers.CharField(help_text="Decimal string, 2 places.")
    contract = serializers.CharField(allow_null=True, help_text="The contract's name, if any.")
    organization = serializers.CharField(allow_null=True)
    can_checkout = serializers.BooleanField()
    refusal = RefusalSerializer(
        allow_null=True, help_text="Why checkout is not possible now (null: it is)."
    )


def basket_data(summary: BasketSummary) -> dict[str, Any]:
    items = []
    if summary.product is not None and summary.run is not None:
        items.append(
            {
                "product_id": summary.product.pk,
                "description": summary.product.description,
                "course_title": summary.run.course.title,
                "run": summary.run.courseware_id,
                "price": _money(summary.price),
                "discounted_price": _money(summary.total),
            }
        )
    blocker = summary.blocker
    return {
        "items": items,
        "code": summary.discount.discount_code if summary.discount else None,
        "total": _money(summary.total),
        "contract": summary.contract_name,
        "organization": summary.organization_name,
        "can_checkout": summary.can_checkout,
        "refusal": {"code": blocker.code, "message": blocker.message} if blocker else None,
    }


class ProductIdSerializer(serializers.Serializer):
    product_id = IdField()


class CodeSerializer(serializers.Serializer):
    code = serializers.CharField(
        max_length=200,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The enrollment code; case does not matter, surrounding spaces are trimmed.",
    )


class PaymentSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="Where the browser posts the fields (CyberSource).")
    method = serializers.CharField()
    # The API's key is "fields"; DRF's metaclass takes declared fields off the class, so this
    # does not replace Serializer.fields at run time (mypy cannot know).
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.CharField(), help_text="Signed fields."
    )


class CheckoutSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["fulfilled", "pending"])
    payment = PaymentSerializer(allow_null=True)


class OrderLineSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    description = serializers.CharField()
    run = serializers.CharField()
    unit_price = serializers.CharField()
    discounted_price = serializers.CharField()


class OrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Order.State.values)
    total = serializers.CharField()
    reference_number = serializers.CharField()
    codes = serializers.ListField(child=serializers.CharField())
    created_on = serializers.DateTimeField()
    updated_on = serializers.DateTimeField()
    lines = OrderLineSerializer(many=True)


def checkout_data(result: CheckoutResult) -> dict[str, Any]:
    payment = result.payment
    return {
        "order_id": result.order.pk,
        "status": result.status,
        "payment": (
            {"url": payment.url, "method": payment.method, "fields": payment.fields}
            if payment
            else None
        ),
    }


def order_data(order: Order) -> dict[str, Any]:
    lines = order.lines.select_related("product__course_run").order_by("pk")
    return {
        "id": order.pk,
        "status": order.state,
        "total": _money(order.total_price_paid),
        "reference_number": order.reference_number,
        "codes": list(
            order.discount_redemptions.order_by("pk").values_list(
                "redeemed_discount__discount_code", flat=True
            )
        ),
        "created_on": serializers.DateTimeField().to_representation(order.created_on),
        "updated_on": serializers.DateTimeField().to_representation(order.updated_on),
        "lines": [
            {
                "product_id": line.product_id,
                "description": line.product.description,
                "run": line.product.course_run.courseware_id,
                "unit_price": _money(line.unit_price),
                "discounted_price": _money(line.discounted_price),
            }
            for line in lines
        ],
    }


# -- views -------------------------------------------------------------------------------------

REFUSALS = {
    400: RefusalSerializer,
    403: RefusalSerializer,
    404: RefusalSerializer,
    409: RefusalSerializer,
}
CODE_REFUSALS = {**REFUSALS, 429: RefusalSerializer}


class BasketView(DomainAPIView):
    """The learner's basket. Sets the ``csrftoken`` cookie for the unsafe requests."""

    @method_decorator(ensure_csrf_cookie)
    @extend_schema(responses={200: BasketSerializer, 403: RefusalSerializer})
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(basket_data(basket_summary(request.user)))


class BasketItemsView(DomainAPIView):
    """Replace the basket's contents with one product (what the Product URL does)."""

    @extend_schema(request=ProductIdSerializer, responses={200: BasketSerializer, **REFUSALS})
    def post(self, request: AuthenticatedRequest) -> Response:
        data = ProductIdSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        basket_replace(request.user, product_id=data.validated_data["product_id"])
        return Response(basket_data(basket_summary(request.user)))


class BasketCodeView(DomainAPIView):
    """Apply an enrollment code to the basket (limited per learner and per address: 429
    ``too-many-attempts`` with ``Retry-After``, ``ecommerce.throttles``), or take it off."""

    @extend_schema(request=CodeSerializer, responses={200: BasketSerializer, **CODE_REFUSALS})
    def post(self, request: AuthenticatedRequest) -> Response:
        code_attempt_check(request)
        data = CodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        summary = basket_code_apply(request.user, code=data.validated_data["code"])
        return Response(basket_data(summary))

    @extend_schema(responses={200: BasketSerializer, 403: RefusalSerializer})
    def delete(self, request: AuthenticatedRequest) -> Response:
        return Response(basket_data(basket_code_remove(request.user)))


class CheckoutCodeSerializer(serializers.Serializer):
    code = serializers.CharField(
        required=False,
        max_length=200,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Optional: the enrollment code, applied and checked out in this one request "
        "(as POST /api/v0/basket/code/ then this without it). Case does not matter, surrounding "
        "spaces are trimmed.",
    )


class CheckoutView(DomainAPIView):
    """Check out the basket: 201 with a new order, 200 when a pending order is reused. With
    ``{"code": …}`` the code is applied and checked out in one request, with the same refusals
    and the same limit on code attempts as applying it (429 ``too-many-attempts``)."""

    @extend_schema(
        request=CheckoutCodeSerializer,
        responses={200: CheckoutSerializer, 201: CheckoutSerializer, **CODE_REFUSALS},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        code = None
        # A body that is JSON but not an object (``5``, ``true``) is refused by the serializer.
        if request.data and (not isinstance(request.data, Mapping) or "code" in request.data):
            code_attempt_check(request)
            data = CheckoutCodeSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            code = data.validated_data["code"]
        result = basket_checkout(request.user, ip_address=client_ip(request), code=code)
        code = status.HTTP_200_OK if result.reused else status.HTTP_201_CREATED
        return Response(checkout_data(result), status=code)


class OrderView(DomainAPIView):
    """One of the learner's orders."""

    @extend_schema(responses={200: OrderSerializer, 403: RefusalSerializer, 404: RefusalSerializer})
    def get(self, request: AuthenticatedRequest, order_id: int) -> Response:
        return Response(order_data(order_get(request.user, order_id)))
