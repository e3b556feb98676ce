"""The request of a signed-in user, for the type checker (django-stubs' documented pattern).

A view behind ``login_required`` (Django) or ``IsAuthenticated`` (DRF, ``DomainAPIView``) is only
reached by a signed-in user: annotating its request with these types says so, and
``request.user`` is then the project's ``User``, not ``User | AnonymousUser``. Types only: the
guard does the refusing, at run time.
"""

from django.http import HttpRequest
from rest_framework.request import Request

from main.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A Django request of a signed-in user (views behind ``login_required``)."""

    user: User


class AuthenticatedRequest(Request):
    """A DRF request of a signed-in user (``DomainAPIView``: ``IsAuthenticated``)."""

    user: User
