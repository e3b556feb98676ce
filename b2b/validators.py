"""The rules a contract's and an organization's fields obey (SPEC §1, §2).

One set for every surface: the commands parse with ``parse_*`` and the services, the models and
the Wagtail forms all check with the same ``validate_*`` functions, which raise Django's
``ValidationError`` with a message that says how to fix the value.
"""

import re
import unicodedata
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError

ORG_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,30}$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NAME_MAX = 255
#: The longest description (an organization's, a contract's) in characters.
DESCRIPTION_MAX = 10_000
PRICE_MAX = Decimal("99999.99")
#: The largest learner cap: a capped contract holds a code per learner per course.
MAX_LEARNERS = 100_000
#: Contract dates are kept within this range (run dates are computed from them in any time zone).
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)
CENTS = Decimal("0.01")


#: Unicode categories a name may not hold: control characters (tabs, line breaks, escapes),
#: format characters (zero-width spaces and joiners, bidirectional marks, embeddings, overrides
#: and isolates, the byte-order mark, soft hyphens), surrogates, private-use and unassigned code
#: points (drawn as nothing or as a box, depending on the font), line and paragraph separators.
#: Each is invisible or moves the text around it, so two names that look the same could differ.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}

#: Characters outside those categories that draw nothing either: Unicode's default-ignorable
#: code points that are marks or letters (the combining grapheme joiner, the Hangul and Khmer
#: fillers, the Mongolian and the other variation selectors) and the blank Braille pattern.
#: ``Uni\u034fversityX`` or ``UniversityX\u3164`` would otherwise pass for ``UniversityX``.
_INVISIBLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x2800, 0x3164]
    + [0xFFA0, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
)


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in _REFUSED_CATEGORIES or ord(char) in _INVISIBLE


def display_name_clean(value: str, *, what: str) -> str:
    """A name people read (an organization's, a contract's) as it is stored: Unicode-normalised
    (NFKC: full-width and compatibility forms become the plain letters and digits they stand
    for), every run of spaces made one space and surrounding spaces trimmed, then checked
    (``validate_display_name``).

    Returns the stored form; raises ``ValidationError`` (code ``invalid-name``) saying what to
    fix. Every surface that takes a name calls it (the commands' services, the Wagtail forms),
    so ``UniversityX`` and ``ＵｎｉｖｅｒｓｉｔｙＸ`` are one name, ``University  X`` and
    ``University X`` too, and ``UniversityX\u200b`` none.
    """
    name = display_name_normalise(value)
    validate_display_name(name, what=what)
    return name


def display_name_normalise(value: str) -> str:
    """A name in its stored form, unchecked: NFKC, each run of spaces (category Zs) one space,
    surrounding white space trimmed. What a name is looked up by (``organization_find``), so a
    lookup and a write never disagree on which name is meant. Tabs and line breaks inside the
    name are kept, for ``validate_display_name`` to refuse."""
    normalised = unicodedata.normalize("NFKC", value)
    spaced = "".join(" " if unicodedata.category(c) == "Zs" else c for c in normalised)
    return re.sub(" {2,}", " ", spaced).strip()


def validate_display_name(value: str, *, what: str) -> None:
    """A name people read (an organization's, a contract's): 1–255 characters, one line, no
    control character and nothing invisible: no zero-width or bidirectional control character
    (U+200B–U+200F, U+202A–U+202E, U+2066–U+2069, U+FEFF, any format character), no filler,
    joiner or variation selector (``_INVISIBLE``), no private-use or unassigned code point."""
    if len(value) > NAME_MAX:
        raise ValidationError(
            f"The {what} name is {len(value)} characters long: keep it to {NAME_MAX}.",
            code="invalid-name",
        )
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value):
        raise ValidationError(
            f"The {what} name contains a tab, a line break or another control character: "
            "give it on one line.",
            code="invalid-name",
        )
    hidden = next((c for c in value if _hidden(c)), None)
    if hidden is not None:
        label = unicodedata.name(hidden, "an unnamed character")
        raise ValidationError(
            f"The {what} name contains an invisible or text-direction character "
            f"(U+{ord(hidden):04X} {label}): type the name again without it, so it reads as "
            "it is stored.",
            code="invalid-name",
        )


def validate_description(value: str, *, what: str) -> None:
    """A description people read: up to ``DESCRIPTION_MAX`` characters; line breaks and tabs
    are kept, other control characters (terminal escapes among them) are refused."""
    if len(value) > DESCRIPTION_MAX:
        raise ValidationError(
            f"The {what} description is {len(value):,} characters long: keep it to "
            f"{DESCRIPTION_MAX:,}.",
            code="invalid-description",
        )
    if any(unicodedata.category(char) == "Cc" and char not in "\n\r\t" for char in value):
        raise ValidationError(
            f"The {what} description contains a control character (such as an escape "
            "sequence): give plain text; line breaks and tabs are fine.",
            code="invalid-description",
        )


def validate_org_key(value: str) -> None:
    """1–30 ASCII letters, digits or underscores (it becomes part of run keys: ``UAI_<key>``)."""
    if not isinstance(value, str) or not ORG_KEY_PATTERN.match(value):
        raise ValidationError(
            f"Org key {value!r} is not valid: use 1 to 30 letters, digits or underscores "
            "(for example UniversityX or MIT_OL).",
            code="invalid-org-key",
        )


def validate_price(value: Decimal | None) -> None:
    """Null (free) or a Decimal from 0.00 to 99999.99 with at most two decimal places."""
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError(
            "The price must be a number such as 25 or 1250.00.", code="invalid-price"
        )
    if value < 0 or value > PRICE_MAX:
        raise ValidationError(
            f"The price {value} is out of range: use an amount from 0.00 to {PRICE_MAX} "
            "(or --no-price for a free contract).",
            code="invalid-price",
        )
    if value != value.quantize(CENTS):
        raise ValidationError(
            f"The price {value} has more than two decimal places: give it in cents at most, "
            "for example 49.99.",
            code="invalid-price",
        )


def validate_max_learners(value: int | None) -> None:
    """Null (uncapped) or a whole number of at least 1."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            f"The learner cap must be a whole number of at least 1 (got {value}); "
            "leave it empty (--no-learner-cap) for an uncapped contract.",
            code="invalid-max-learners",
        )
    if value > MAX_LEARNERS:
        raise ValidationError(
            f"The learner cap {value} is over {MAX_LEARNERS:,}: a capped contract gets one code "
            "per learner per course, so give a realistic cap, or leave it empty "
            "(--no-learner-cap) for an uncapped contract.",
            code="invalid-max-learners",
        )


def validate_contract_dates(start: date | None, end: date | None) -> None:
    """Dates within ``EARLIEST_DATE``–``LATEST_DATE``; the start not after the (inclusive) end."""
    for label, value in (("start", start), ("end", end)):
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            raise ValidationError(
                f"The {label} date {value.isoformat()} is out of range: contract dates run from "
                f"{EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}.",
                code="invalid-dates",
            )
    if start and end and start > end:
        raise ValidationError(
            f"The contract would end ({end.isoformat()}) before it starts "
            f"({start.isoformat()}): give a start date on or before the end date.",
            code="invalid-dates",
        )


def parse_date(text: str, *, option: str) -> date:
    """Parse a ``YYYY-MM-DD`` date given to ``option``."""
    try:
        if not DATE_PATTERN.match(text.strip()):
            raise ValueError(text)
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise ValidationError(
            f"{option} {text!r} is not a date: use YYYY-MM-DD, for example 2026-01-31.",
            code="invalid-date",
        ) from None
