"""Outgoing mail (main.mail, SPEC §9): rendered and recorded when queued, sent after the commit,
retried with backoff, recorded at every step, never sent twice."""

import datetime as dt
import smtplib

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.db import transaction
from django.utils import timezone

from main.mail import mail_destination, mail_queue
from main.mail_delivery import Delivery, mail_deliver
from main.models import OutgoingMail
from main.tasks import mail_requeue, mail_send
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 14, 9, 30, tzinfo=dt.UTC)
DISCONNECTED = "SMTPServerDisconnected: Connection unexpectedly closed"


@pytest.fixture
def clock(monkeypatch):
    """``timezone.now`` stands at ``clock["now"]`` (NOW to start with)."""
    state = {"now": NOW}
    monkeypatch.setattr(timezone, "now", lambda: state["now"])
    return state


@pytest.fixture
def site(settings):
    settings.DEFAULT_FROM_EMAIL = "Learning <no-reply@learn.example.edu>"
    settings.SITE_BASE_URL = "https://learn.example.edu"
    settings.SITE_NAME = "Learning"


def hello(to="ada@example.edu", **kwargs):
    return mail_queue(
        to, template="tests/mail/hello", context={"name": "Ada", "team": "Data"}, **kwargs
    )


def row(mail_id):
    return OutgoingMail.objects.values(
        "status", "attempts", "last_error", "next_attempt_on", "locked_until"
    ).get(pk=mail_id)


def test_a_queued_mail_is_rendered_and_recorded_at_once_and_sent_after_the_commit(
    mail_templates, site, django_capture_on_commit_callbacks
):
    ada = UserFactory(username="ada", email="ada@example.edu")
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        queued = mail_queue(
            " ada@example.edu ",
            template="tests/mail/hello",
            context={"name": "Ada O'Brien", "team": "R&D <core>"},
            user=ada,
        )

    # Recorded, queued, not sent: the send waits for the commit.
    recorded = OutgoingMail.objects.get()
    assert recorded.pk == queued.pk
    assert (
        recorded.to,
        recorded.user,
        recorded.from_email,
        recorded.subject,
        recorded.template,
        recorded.body_text,
        recorded.key,
        recorded.status,
        recorded.attempts,
        recorded.sent_on,
    ) == (
        "ada@example.edu",
        ada,
        "Learning <no-reply@learn.example.edu>",
        "Hello Ada O'Brien from Learning",  # one line, text as typed (no HTML escaping)
        "tests/mail/hello",
        "Dear Ada O'Brien,\n\nYour team: R&D <core>.\n",
        "",
        "queued",
        0,
        None,
    )
    # No HTML template: the text is laid out in mail/layout.html, escaped as HTML.
    assert "<title>Hello Ada O&#x27;Brien from Learning</title>" in recorded.body_html
    assert (
        "<p>Dear Ada O&#x27;Brien,</p>\n\n<p>Your team: R&amp;D &lt;core&gt;.</p>"
        in recorded.body_html
    )
    assert mail.outbox == []
    assert len(callbacks) == 1

    callbacks[0]()  # the commit: the task runs (Celery eager)

    sent = mail.outbox
    assert [(m.subject, m.from_email, m.to, m.body) for m in sent] == [
        (
            "Hello Ada O'Brien from Learning",
            "Learning <no-reply@learn.example.edu>",
            ["ada@example.edu"],
            "Dear Ada O'Brien,\n\nYour team: R&D <core>.\n",
        )
    ]
    assert sent[0].alternatives == [(recorded.body_html, "text/html")]
    recorded.refresh_from_db()
    assert (recorded.status, recorded.attempts, recorded.last_error, recorded.locked_until) == (
        "sent",
        1,
        "",
        None,
    )
    assert recorded.sent_on is not None and recorded.next_attempt_on is None


def test_a_mail_with_its_own_html_template_is_sent_with_it(
    mail_templates, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        mail_queue("ada@example.edu", template="tests/mail/rich", context={"name": "Ada"})

    assert [(m.subject, m.body, m.alternatives) for m in mail.outbox] == [
        ("Rich Ada", "Text for Ada.\n", [("<p>HTML for Ada.</p>\n", "text/html")])
    ]


def test_a_mail_queued_in_a_transaction_that_rolls_back_is_neither_recorded_nor_sent(
    mail_templates, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        hello()
        raise RuntimeError("the fulfilment failed")

    assert (OutgoingMail.objects.count(), mail.outbox, callbacks) == (0, [], [])


def test_a_failing_send_is_retried_with_exponential_backoff_then_failed(
    mail_templates, flaky, clock, settings
):
    settings.MAIL_MAX_ATTEMPTS = 5
    settings.MAIL_RETRY_BACKOFF = 60.0
    settings.MAIL_RETRY_BACKOFF_MAX = 300.0
    flaky.reset(failures=99)
    queued = hello()

    outcomes = []
    for _ in range(5):
        delivery = mail_deliver(queued.pk)
        state = row(queued.pk)
        outcomes.append(
            (
                delivery,
                state["status"],
                state["next_attempt_on"],
                state["locked_until"],
                state["last_error"],
            )
        )
        clock["now"] += dt.timedelta(seconds=delivery.retry_in or 0)

    def after(seconds):
        return dt.timedelta(seconds=seconds)

    assert outcomes == [
        (Delivery(queued.pk, "queued", 1, 60.0), "queued", NOW + after(60), None, DISCONNECTED),
        (
            Delivery(queued.pk, "queued", 2, 120.0),
            "queued",
            NOW + after(180),
            None,
            DISCONNECTED,
        ),
        (
            Delivery(queued.pk, "queued", 3, 240.0),
            "queued",
            NOW + after(420),
            None,
            DISCONNECTED,
        ),
        (  # the wait is capped at MAIL_RETRY_BACKOFF_MAX
            Delivery(queued.pk, "queued", 4, 300.0),
            "queued",
            NOW + after(720),
            None,
            DISCONNECTED,
        ),
        (Delivery(queued.pk, "failed", 5), "failed", None, None, DISCONNECTED),
    ]
    assert (flaky.calls, mail.outbox) == (5, [])

    # A failed mail is never tried again.
    assert mail_deliver(queued.pk) == Delivery(queued.pk, "failed", 5)
    assert flaky.calls == 5


def test_a_send_that_fails_twice_then_succeeds_ends_sent_with_no_error(mail_templates, flaky):
    flaky.reset(failures=2)
    queued = hello()

    deliveries = [mail_deliver(queued.pk) for _ in range(3)]

    assert deliveries == [
        Delivery(queued.pk, "queued", 1, 60.0),
        Delivery(queued.pk, "queued", 2, 120.0),
        Delivery(queued.pk, "sent", 3),
    ]
    state = row(queued.pk)
    assert (state["status"], state["attempts"], state["last_error"]) == ("sent", 3, "")
    assert [m.to for m in mail.outbox] == [["ada@example.edu"]]


def test_the_task_asks_celery_to_retry_after_the_backoff(mail_templates, flaky, monkeypatch):
    flaky.reset(failures=1)
    queued = hello()
    asked = []

    def retry(**options):
        asked.append(options)
        return Retry("retry", when=options["countdown"])

    monkeypatch.setattr(mail_send, "retry", retry)
    with pytest.raises(Retry):
        mail_send(queued.pk)  # called as a worker calls it (not eager)

    assert asked == [{"countdown": 60.0}]
    assert row(queued.pk)["status"] == "queued"


def test_with_celery_eager_a_failed_send_stays_queued_and_the_caller_goes_on(
    mail_templates, flaky, django_capture_on_commit_callbacks
):
    flaky.reset(failures=1)
    with django_capture_on_commit_callbacks(execute=True):
        queued = hello()  # no exception reaches the caller

    state = row(queued.pk)
    assert (state["status"], state["attempts"], state["last_error"], flaky.calls) == (
        "queued",
        1,
        DISCONNECTED,
        1,
    )


def test_a_sent_mail_is_never_sent_again_on_redelivery(
    mail_templates, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        queued = hello()
    assert len(mail.outbox) == 1

    results = [mail_send.delay(queued.pk).get() for _ in range(2)]  # the task delivered twice

    assert results == ["sent", "sent"]
    assert len(mail.outbox) == 1
    assert (row(queued.pk)["status"], row(queued.pk)["attempts"]) == ("sent", 1)


def test_a_mail_held_by_another_worker_is_left_to_it_until_the_hold_expires(mail_templates, clock):
    queued = hello()
    OutgoingMail.objects.filter(pk=queued.pk).update(locked_until=NOW + dt.timedelta(minutes=5))

    assert mail_deliver(queued.pk) == Delivery(queued.pk, "queued", 0)
    assert mail.outbox == []

    clock["now"] = NOW + dt.timedelta(minutes=5, seconds=1)  # that worker died
    assert mail_deliver(queued.pk) == Delivery(queued.pk, "sent", 1)
    assert len(mail.outbox) == 1


def test_a_key_makes_a_mail_unique(mail_templates, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = hello(key="receipt:order:1")
        again = mail_queue(
            "someone@example.edu",
            template="tests/mail/hello",
            context={"name": "Other", "team": "Other"},
            key="receipt:order:1",
        )

    assert again.pk == first.pk
    assert OutgoingMail.objects.count() == 1
    assert len(callbacks) == 1
    assert [m.to for m in mail.outbox] == [["ada@example.edu"]]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            smtplib.SMTPRecipientsRefused({"ada@example.edu": (550, b"5.1.1 No such user")}),
            Delivery(1, "failed", 1),
        ),
        (
            smtplib.SMTPDataError(554, b"5.7.1 Message rejected"),
            Delivery(1, "failed", 1),
        ),
        (
            smtplib.SMTPRecipientsRefused({"ada@example.edu": (451, b"4.7.1 Try again later")}),
            Delivery(1, "queued", 1, 60.0),
        ),
        (smtplib.SMTPDataError(421, b"4.3.0 Busy"), Delivery(1, "queued", 1, 60.0)),
        (TimeoutError("timed out"), Delivery(1, "queued", 1, 60.0)),
    ],
    ids=["recipient-550", "data-554", "recipient-451", "data-421", "timeout"],
)
def test_a_permanent_error_fails_the_mail_at_once_a_temporary_one_is_retried(
    mail_templates, flaky, error, expected
):
    flaky.reset(failures=1, error=error)
    queued = hello()

    delivery = mail_deliver(queued.pk)

    assert (delivery.status, delivery.attempts, delivery.retry_in) == (
        expected.status,
        expected.attempts,
        expected.retry_in,
    )
    assert row(queued.pk)["last_error"] == f"{type(error).__name__}: {error}"


def test_a_providers_message_id_is_recorded(mail_templates, settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"  # django-anymail's own
    first, second = hello(), hello(to="grace@example.edu")

    mail_deliver(first.pk)
    mail_deliver(second.pk)

    assert list(
        OutgoingMail.objects.order_by("pk").values_list("to", "status", "provider_message_id")
    ) == [("ada@example.edu", "sent", "0"), ("grace@example.edu", "sent", "1")]


def test_requeue_sends_again_only_overdue_mails_that_no_worker_holds(
    mail_templates, clock, django_capture_on_commit_callbacks
):
    lost = hello("lost@example.edu")  # its task never ran: 6 minutes overdue
    recent = hello("recent@example.edu")  # 4 minutes: its own task may still come
    held = hello("held@example.edu")  # a worker is sending it
    failed = hello("failed@example.edu")
    minutes = dt.timedelta(minutes=1)
    OutgoingMail.objects.filter(pk=lost.pk).update(next_attempt_on=NOW - 6 * minutes)
    OutgoingMail.objects.filter(pk=recent.pk).update(next_attempt_on=NOW - 4 * minutes)
    OutgoingMail.objects.filter(pk=held.pk).update(
        next_attempt_on=NOW - 10 * minutes, locked_until=NOW + minutes
    )
    OutgoingMail.objects.filter(pk=failed.pk).update(
        status="failed", next_attempt_on=NOW - 10 * minutes
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert mail_requeue() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert mail_requeue() == 0  # beat firing again: nothing more

    assert [m.to for m in mail.outbox] == [["lost@example.edu"]]
    assert list(OutgoingMail.objects.order_by("pk").values_list("status", flat=True)) == [
        "sent",
        "queued",
        "queued",
        "failed",
    ]


def test_where_mail_goes_is_said_in_words(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(settings.BASE_DIR / "sent-mail")
    assert mail_destination() == (
        "written to sent-mail/ (one .log file per mail, readable in any editor)"
    )
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    assert mail_destination() == (
        f"written to {tmp_path}/mail/ (one .log file per mail, readable in any editor)"
    )
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "smtp.example.edu", 587
    assert mail_destination() == "sent through the SMTP server smtp.example.edu:587"
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    assert mail_destination() == "sent through anymail.backends.mailgun.EmailBackend"


def test_only_this_sites_links_are_clickable_in_a_text_mail(settings):
    from main.mail import text_as_html

    settings.SITE_BASE_URL = "https://learn.example.edu"
    text = (
        "Hello Eve <b>http://evil.example/x</b>,\n\n"
        "join: https://learn.example.edu/join/ABC-123/?a=1&b=2\n"
        "not ours: https://learn.example.edu.evil.example/join/ and https://learn.example.edu@evil.example/"
    )

    assert str(text_as_html(text)) == (
        "<p>Hello Eve &lt;b&gt;http://evil.example/x&lt;/b&gt;,</p>\n\n"
        '<p>join: <a href="https://learn.example.edu/join/ABC-123/?a=1&amp;b=2">'
        "https://learn.example.edu/join/ABC-123/?a=1&amp;b=2</a><br>"
        'not ours: <a href="https://learn.example.edu">https://learn.example.edu</a>'
        '.evil.example/join/ and <a href="https://learn.example.edu">https://learn.example.edu</a>'
        "@evil.example/</p>"
    )
