"""Shared plumbing of the JSON API: refusals as ``{"code", "message"}``, the base view, ``/me``.

Every refusal of the API has the same shape: a 4xx status and ``{"code": "<stable code>",
"message": "<what went wrong and how to fix it>"}``. A service's ``DomainError`` keeps its code
(404 for a ``NotFoundError``, 409 for a ``ConflictError``, 400 otherwise); DRF's own errors
(authentication, CSRF, malformed input) get codes of the same style.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from main.exceptions import ConflictError, DomainError, NotFoundError, TooManyAttempts
from main.http import AuthenticatedRequest
from main.params import id_parse


class RefusalSerializer(serializers.Serializer):
    """A refusal: a stable machine-readable ``code`` and a ``message`` for people."""

    code = serializers.CharField()
    message = serializers.CharField()


def refusal_status(exc: DomainError) -> int:
    """The HTTP status of a service's refusal: 404 not found, 409 conflict, 429 too many
    attempts, else 400."""
    if isinstance(exc, TooManyAttempts):
        return status.HTTP_429_TOO_MANY_REQUESTS
    if isinstance(exc, NotFoundError):
        return status.HTTP_404_NOT_FOUND
    if isinstance(exc, ConflictError):
        return status.HTTP_409_CONFLICT
    return status.HTTP_400_BAD_REQUEST


def refusal_headers(exc: DomainError) -> dict[str, str]:
    """The HTTP headers of a service's refusal: ``Retry-After`` (seconds) for too many attempts."""
    if isinstance(exc, TooManyAttempts):
        return {"Retry-After": str(exc.retry_after)}
    return {}


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        return [line for key, value in detail.items() for line in _flatten(value, f"{key}: ")]
    if isinstance(detail, list):
        return [line for item in detail for line in _flatten(item, prefix)]
    return [f"{prefix}{detail}"]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with every refusal shaped ``{"code", "message"}``."""
    if isinstance(exc, DomainError):
        return Response(
            {"code": exc.code, "message": exc.message},
            status=refusal_status(exc),
            headers=refusal_headers(exc),
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {
                "code": "request-too-large",
                "message": "The request body is too large: send the JSON fields only.",
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = NotFound("Nothing here: check the ID in the URL.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = PermissionDenied()
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, APIException):
        return response
    if isinstance(exc, ValidationError):
        code, message = "invalid-input", " ".join(_flatten(exc.detail))
    else:
        message = str(exc.detail)
        code = "csrf-failed" if message.startswith("CSRF Failed") else exc.default_code
    response.data = {"code": str(code).replace("_", "-"), "message": message}
    return response


class IdField(serializers.IntegerField):
    """An ID in a request body: a JSON number or ASCII digits from 1 up (``main.params``), never
    ``"²"``, ``"٣"`` or ``"３"``."""

    default_error_messages = {
        "invalid": "A positive whole number is required (an ID such as 12, in ASCII digits)."
    }

    def to_internal_value(self, data: Any) -> int:
        try:
            return id_parse(data)
        except ValueError:
            self.fail("invalid")  # raises ValidationError


class DomainAPIView(APIView):
    """An API view for a signed-in learner: session authentication with CSRF, refusals shaped
    ``{"code", "message"}``."""

    permission_classes = [IsAuthenticated]

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return api_exception_handler


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    name = serializers.CharField()


class MeView(DomainAPIView):
    """``GET /api/v0/me/``: who is signed in (also the benchmark's trivial endpoint). Sets the
    ``csrftoken`` cookie that unsafe requests echo in ``X-CSRFToken``."""

    @method_decorator(ensure_csrf_cookie)
    @extend_schema(responses={200: MeSerializer, 403: RefusalSerializer})
    def get(self, request: AuthenticatedRequest) -> Response:
        user = request.user
        return Response(
            {
                "id": user.pk,
                "username": user.get_username(),
                "email": user.email,
                "name": user.get_full_name(),
            }
        )


def api_paths_only(endpoints: list[tuple[Any, ...]], **_: Any) -> list[tuple[Any, ...]]:
    """drf-spectacular preprocessing hook: the schema documents ``/api/`` only (not the CMS's
    internal admin API)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/")]


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any ``/api/`` address no endpoint answers: a JSON 404 in the API's shape, not a page."""
    return JsonResponse(
        {
            "code": "not-found",
            "message": f"No API endpoint at {request.path}: /api/schema/ lists them.",
        },
        status=404,
    )
