"""The mail provider's delivery reports (SPEC §9): django-anymail's Mailgun tracking webhook,
signature checked, updates the mail's ``provider_status``; a forged report changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from main.models import OutgoingMail

pytestmark = pytest.mark.django_db

KEY = "test-signing-key"
URL = "/anymail/mailgun/tracking/"


@pytest.fixture
def mail(settings):
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": KEY, "MAILGUN_API_KEY": "k"}
    return OutgoingMail.objects.create(
        to="ada@example.edu",
        from_email="no-reply@example.edu",
        subject="Hello",
        template="tests/mail/hello",
        body_text="Hello",
        status="sent",
        provider_message_id="<20260101.1234@mg.example.edu>",
    )


def payload(event, *, timestamp, key=KEY, severity=None):
    token = f"token-{event}-{timestamp}"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    data = {
        "event": event,
        "timestamp": timestamp,
        "id": f"id-{event}",
        "recipient": "ada@example.edu",
        "message": {"headers": {"message-id": "20260101.1234@mg.example.edu"}},
    }
    if severity:
        data["severity"] = severity
    return json.dumps(
        {
            "signature": {"timestamp": str(timestamp), "token": token, "signature": signature},
            "event-data": data,
        }
    )


def post(client, body):
    return client.post(URL, body, content_type="application/json")


def test_a_signed_report_records_the_delivery(client, mail):
    assert post(client, payload("delivered", timestamp=1767225600)).status_code == 200
    mail.refresh_from_db()
    assert (mail.provider_status, mail.provider_status_on.timestamp()) == ("delivered", 1767225600)
    # A later bounce is recorded; an older "deferred" that arrives late is not.
    post(client, payload("failed", timestamp=1767225700))
    post(client, payload("failed", timestamp=1767225650, severity="temporary"))
    mail.refresh_from_db()
    assert mail.provider_status == "bounced"
    post(client, payload("complained", timestamp=1767229000))
    mail.refresh_from_db()
    assert mail.provider_status == "complained"


def test_a_forged_report_is_refused_and_changes_nothing(client, mail):
    response = post(client, payload("delivered", timestamp=1767225600, key="wrong-key"))
    assert response.status_code == 400
    mail.refresh_from_db()
    assert (mail.provider_status, mail.provider_status_on) == ("", None)


def test_engagement_events_are_not_delivery_news(client, mail):
    assert post(client, payload("opened", timestamp=1767225600)).status_code == 200
    mail.refresh_from_db()
    assert mail.provider_status == ""


POSTMARK_BOUNCE = json.dumps(
    {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": "20260101.1234@mg.example.edu",
        "Email": "ada@example.edu",
        "BouncedAt": "2026-12-05T23:59:00Z",
    }
)


@pytest.mark.parametrize(
    ("backend", "secret", "url"),
    [
        # Another provider than the one mail goes through.
        ("anymail.backends.mailgun.EmailBackend", {}, "/anymail/postmark/tracking/"),
        # The provider mail goes through, with no webhook secret set (basic auth off).
        ("anymail.backends.postmark.EmailBackend", {}, "/anymail/postmark/tracking/"),
        # No provider at all: Django's own backend.
        ("django.core.mail.backends.smtp.EmailBackend", {}, "/anymail/mailgun/tracking/"),
    ],
)
def test_an_unauthenticated_report_is_not_received(client, mail, settings, backend, secret, url):
    settings.EMAIL_BACKEND = backend
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "t", **secret}

    response = client.post(url, POSTMARK_BOUNCE, content_type="application/json")

    assert response.status_code == 404
    mail.refresh_from_db()
    assert (mail.provider_status, mail.provider_status_on) == ("", None)
