"""Fixtures of the ground floor's tests: the test mail templates (tests/main/templates) and a
backend that fails on demand."""

from pathlib import Path

import pytest

from tests.main.mail_backends import FlakyBackend
from tests.shop import learner, make_offer, payments  # noqa: F401  (fixtures)

TEMPLATES = Path(__file__).resolve().parent / "templates"


@pytest.fixture
def mail_templates(settings):
    """The project's templates plus ``tests/mail/hello`` (text only) and ``tests/mail/rich``
    (text and HTML)."""
    engine = {**settings.TEMPLATES[0]}
    engine["DIRS"] = [*engine["DIRS"], TEMPLATES]
    settings.TEMPLATES = [engine]


@pytest.fixture
def flaky(settings):
    """``FlakyBackend`` as the email backend: ``flaky.reset(failures=N, error=...)``."""
    settings.EMAIL_BACKEND = "tests.main.mail_backends.FlakyBackend"
    FlakyBackend.reset()
    yield FlakyBackend
    FlakyBackend.reset()
