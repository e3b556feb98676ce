"""An email backend for the mail tests: it fails the first ``FlakyBackend.failures`` sends with
``FlakyBackend.error``, then delivers to Django's memory outbox (``django.core.mail.outbox``)."""

from __future__ import annotations

import smtplib

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend


class FlakyBackend(BaseEmailBackend):
    failures = 0
    error: Exception = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    calls = 0

    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        cls = type(self)
        cls.calls += 1
        if cls.failures > 0:
            cls.failures -= 1
            raise cls.error
        mail.outbox.extend(email_messages)
        return len(email_messages)

    @classmethod
    def reset(cls, *, failures: int = 0, error: Exception | None = None) -> None:
        cls.failures, cls.calls = failures, 0
        cls.error = error or smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
