"""Argument parsing shared by the b2b commands: turn operator text into typed values."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from b2b.validators import parse_date
from main.params import id_parse

#: Whole numbers and amounts in ASCII digits only (``int`` and ``Decimal`` also take, say,
#: full-width digits, which an operator would not mean to type).
WHOLE = re.compile(r"[+-]?[0-9]+")
AMOUNT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def _whole(text: str) -> int:
    if not WHOLE.fullmatch(text.strip()):
        raise ValueError(text)
    return int(text)


def _argparse_type(parse: Any, name: str) -> Any:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValidationError as exc:
            raise argparse.ArgumentTypeError(" ".join(exc.messages)) from None

    convert.__name__ = name
    return convert


def price_type(text: str) -> Decimal:
    """A number; its range and cents are the service's to check (a refusal, exit 1)."""
    try:
        if not AMOUNT.fullmatch(text.strip()):
            raise InvalidOperation(text)
        value = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a price: give an amount such as 250 or 49.99."
        ) from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a price: give an amount such as 250.")
    return value


def start_date_type(text: str) -> dt.date:
    return _argparse_type(lambda t: parse_date(t, option="--start"), "date")(text)


def end_date_type(text: str) -> dt.date:
    return _argparse_type(lambda t: parse_date(t, option="--end"), "date")(text)


#: The largest ID a database row can have here (a 32-bit integer column, as Wagtail's pages use).
MAX_ID = 2_147_483_647


def positive_id(text: str) -> int:
    """A database ID: a whole number from 1 to ``MAX_ID`` in ASCII digits (``main.params``)."""
    if not WHOLE.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not an ID: give a whole number such as 12.")
    try:
        return id_parse(text, maximum=MAX_ID)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ID: IDs are whole numbers from 1 to {MAX_ID}."
        ) from None


def learner_cap(text: str) -> int:
    try:
        return _whole(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of learners: give a whole number of at least 1."
        ) from None
