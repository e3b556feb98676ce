"""Mail through Django's SMTP backend to a real SMTP server on loopback (aiosmtpd): what the
server receives, and what its refusals do to the mail's status."""

import pytest

from main.mail import mail_queue
from main.mail_delivery import Delivery, mail_deliver
from main.models import OutgoingMail
from tests.main.smtp import SMTPServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    settings.DEFAULT_FROM_EMAIL = "Learning <no-reply@learn.example.edu>"
    with SMTPServer() as server:
        settings.EMAIL_PORT = server.port
        yield server.recorder


def queue_rich():
    return mail_queue("ada@example.edu", template="tests/mail/rich", context={"name": "Ada"})


def test_the_smtp_server_receives_the_mail_with_its_text_and_html(
    smtp, mail_templates, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        queued = queue_rich()

    assert len(smtp.received) == 1
    received = smtp.received[0]
    assert (received.mail_from, received.rcpt_tos) == (
        "no-reply@learn.example.edu",
        ["ada@example.edu"],
    )
    assert (received.message["Subject"], received.message["From"], received.message["To"]) == (
        "Rich Ada",
        "Learning <no-reply@learn.example.edu>",
        "ada@example.edu",
    )
    assert received.part("text/plain") == "Text for Ada.\n"
    assert received.part("text/html") == "<p>HTML for Ada.</p>\n"
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.last_error) == ("sent", 1, "")


def test_a_server_that_says_try_later_gets_the_mail_on_the_next_attempt(smtp, mail_templates):
    smtp.data_replies.append("451 4.3.0 Try again later")
    queued = queue_rich()

    first = mail_deliver(queued.pk)
    state = OutgoingMail.objects.get(pk=queued.pk)
    assert (first, state.status, state.last_error, smtp.received) == (
        Delivery(queued.pk, "queued", 1, 60.0),
        "queued",
        "SMTPDataError: (451, b'4.3.0 Try again later')",
        [],
    )

    assert mail_deliver(queued.pk) == Delivery(queued.pk, "sent", 2)
    assert [r.rcpt_tos for r in smtp.received] == [["ada@example.edu"]]


def test_a_recipient_the_server_refuses_for_good_fails_the_mail_at_once(smtp, mail_templates):
    smtp.rcpt_replies.append("550 5.1.1 Mailbox unavailable")
    queued = queue_rich()

    assert mail_deliver(queued.pk) == Delivery(queued.pk, "failed", 1)
    state = OutgoingMail.objects.get(pk=queued.pk)
    assert (state.status, state.last_error, state.next_attempt_on, smtp.received) == (
        "failed",
        "SMTPRecipientsRefused: {'ada@example.edu': (550, b'5.1.1 Mailbox unavailable')}",
        None,
        [],
    )


def test_a_server_that_is_down_leaves_the_mail_queued_with_the_error(settings, mail_templates):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_TIMEOUT = "127.0.0.1", 5
    with SMTPServer() as server:
        settings.EMAIL_PORT = server.port
    # the server stopped: nothing listens on its port any more
    queued = queue_rich()

    assert mail_deliver(queued.pk) == Delivery(queued.pk, "queued", 1, 60.0)
    assert OutgoingMail.objects.get(pk=queued.pk).last_error == (
        "ConnectionRefusedError: [Errno 111] Connection refused"
    )
