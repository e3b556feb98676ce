"""The one parser of ID parameters (query strings, JSON bodies, command lines), and of email
addresses given to the product to act on (``email_parse``).

``int()`` and ``str.isdigit()`` take far more than an operator or a link means: ``"²"`` passes
``isdigit()`` and then fails ``int()`` (a 500), and ``int("٣")`` or ``int("３")`` quietly read
Arabic-Indic or full-width digits as 3. An ID here is ASCII digits only, from 1 to the largest
database ID; anything else is refused the same way on every surface.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from main.exceptions import ValidationFailed

#: The largest ID a row can have (a 64-bit ``BigAutoField``).
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


class InvalidId(ValidationFailed):
    """A parameter that should name a row by its ID and is not a whole number in range."""

    code = "invalid-id"


def id_parse(value: Any, *, maximum: int = MAX_ID) -> int:
    """An ID from text (ASCII digits, surrounding spaces ignored) or from an ``int`` (a JSON
    number): a whole number from 1 to ``maximum``. Anything else (non-ASCII digits, signs,
    decimals, booleans, empty text) raises ``ValueError``."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise ValueError(value)
    if not 1 <= number <= maximum:
        raise ValueError(value)
    return number


def id_param(params: Any, name: str, *, message: str) -> int | None:
    """The ID in query parameter ``name`` of ``params`` (``request.GET``): ``None`` when absent
    or empty, else ``id_parse``'s value; ``InvalidId`` with ``message`` (``{value!r}`` is
    replaced by what was given) when it is not an ID."""
    raw = params.get(name, "")
    if raw == "":
        return None
    try:
        return id_parse(raw)
    except ValueError:
        raise InvalidId(message.format(value=raw)) from None


#: The longest address stored (RFC 5321's 254 characters; the email columns' length).
EMAIL_MAX = 254


def email_parse(text: str) -> str | None:
    """An email address as the product stores it (trimmed, lowercase), or None when ``text`` is
    not one: Django's validator, and at most ``EMAIL_MAX`` characters (the validator lets longer
    ones through, which no column holds)."""
    email = (text or "").strip().lower()
    if len(email) > EMAIL_MAX:
        return None
    try:
        validate_email(email)
    except ValidationError:
        return None
    return email
