"""Outgoing mail: the one way the product sends mail (SPEC §9).

Every mail (account mail through ``main.accounts.AccountAdapter``, receipts, and whatever comes
later) goes through ``mail_queue``:

1. It is rendered at once from Django templates named by a prefix (the convention allauth uses):
   ``<prefix>_subject.txt`` (one line), ``<prefix>_message.txt`` (the text body, required) and
   ``<prefix>_message.html`` (the HTML body; without one, the text body is laid out in
   ``mail/layout.html``). Text parts are rendered without HTML escaping.
2. It becomes an ``OutgoingMail`` row, ``queued``, in the caller's transaction: the durable record
   that it must be sent. A ``key`` makes it unique: queuing the same key again returns the first
   mail and sends nothing more (a receipt per order, an alert per threshold).
3. After the commit, ``main.tasks.mail_send`` sends it through Django's email backend
   (``EMAIL_BACKEND``: the file backend writing to ``sent-mail/`` by default; SMTP with
   ``EMAIL_URL``; a provider through django-anymail). Nothing is sent if the transaction rolls
   back.

``main.mail_delivery.mail_deliver`` is the send: it claims the mail with a conditional update
(status ``queued``, not held by another worker), so two deliveries of the task never send it
twice and a mail once ``sent`` is never sent again. A failed attempt records the error and is
retried after ``MAIL_RETRY_BACKOFF * 2**(n-1)`` seconds (n attempts so far, at most
``MAIL_RETRY_BACKOFF_MAX``) until ``MAIL_MAX_ATTEMPTS``; an error the server gives as permanent
(an SMTP 5xx reply, a recipient refused) fails the mail at once. ``main.tasks.mail_requeue``
(Celery beat) sends again what is due and was not picked up (a task lost with a broker or a
process). A worker that dies between the server's acceptance and the status update leaves the
mail ``queued``; it is sent again once its hold expires: at least once, the one case where a
duplicate can happen.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template import Context, TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

from main.models import OutgoingMail
from main.queue import enqueue_on_commit
from main.tasks import mail_send

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedMail:
    """A mail's three parts, as sent."""

    subject: str
    text: str
    html: str


def site_url(path: str = "/") -> str:
    """An absolute link into the site (``SITE_BASE_URL`` + ``path``), as mails carry them."""
    return f"{settings.SITE_BASE_URL}{path}"


def mail_destination() -> str:
    """Where mail goes with the current settings, in words (for the demo and operators)."""
    backend = settings.EMAIL_BACKEND
    if backend == "django.core.mail.backends.filebased.EmailBackend":
        path = Path(settings.EMAIL_FILE_PATH)
        try:
            shown = f"{path.resolve().relative_to(Path(settings.BASE_DIR).resolve())}/"
        except ValueError:
            shown = f"{path}/"
        return f"written to {shown} (one .log file per mail, readable in any editor)"
    if backend == "django.core.mail.backends.smtp.EmailBackend":
        return f"sent through the SMTP server {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    if backend == "django.core.mail.backends.console.EmailBackend":
        return "printed on the standard output of the process that sends it"
    return f"sent through {backend}"


def text_as_html(text: str) -> SafeString:
    """A text body as HTML paragraphs, every character escaped, with links to this site
    (``SITE_BASE_URL``) made clickable and no others: text a person typed (a name given to a
    seat) cannot put a link to anywhere else into a mail sent in the site's name."""
    base = re.escape(escape(settings.SITE_BASE_URL))
    linked = re.sub(
        rf"{base}(?:/[^\s<>]*)?",
        lambda match: f'<a href="{match.group(0)}">{match.group(0)}</a>',
        escape(text.strip()),
    )
    return mark_safe(linebreaks(linked, autoescape=False))  # noqa: S308 - escaped above


def mail_render(template: str, context: dict[str, Any]) -> RenderedMail:
    """Render a mail from its templates (module docstring, 1.). ``context`` gets ``site_name``
    and ``site_url`` added. Raises ``TemplateDoesNotExist`` when the subject or the text body
    template is missing."""
    ctx = {"site_name": settings.SITE_NAME, "site_url": settings.SITE_BASE_URL, **context}
    subject = " ".join(_render_text(f"{template}_subject.txt", ctx).split())
    text = _render_text(f"{template}_message.txt", ctx).strip() + "\n"
    try:
        html = render_to_string(f"{template}_message.html", {**ctx, "subject": subject})
    except TemplateDoesNotExist:  # the text, laid out: paragraphs, this site's links clickable
        html = render_to_string(
            "mail/layout.html",
            {**ctx, "subject": subject, "text": text.strip(), "body": text_as_html(text)},
        )
    return RenderedMail(subject=subject, text=text, html=html.strip() + "\n")


def _render_text(name: str, context: dict[str, Any]) -> str:
    # A text part is not HTML: "O'Brien" stays as typed, not "O&#x27;Brien".
    return get_template(name).template.render(Context(context, autoescape=False))  # type: ignore[attr-defined]


def mail_queue(
    to: str,
    *,
    template: str,
    context: dict[str, Any],
    user: Any = None,
    key: str = "",
    new: bool = False,
) -> OutgoingMail:
    """Queue a mail to ``to`` (one address), rendered now from ``template`` with ``context``;
    the task sends it after the current transaction commits (at once outside one).

    ``user``: the recipient's account, if any (recorded). ``key``: a unique name for this mail
    (e.g. ``receipt:order:42``); if a mail with that key exists it is returned and nothing new
    is queued. ``new``: the caller knows no mail with ``key`` can exist (its key names a row made
    in the current transaction): it is written without looking (the unique key still stands).
    Returns the ``OutgoingMail`` (``queued``). Raises ``TemplateDoesNotExist`` for a
    template that is not there (a programming error: nothing is written).
    """
    if key and not new:
        existing = OutgoingMail.objects.filter(key=key).first()
        if existing is not None:
            return existing
    rendered = mail_render(template, context)
    now = timezone.now()
    fields = {
        "to": to.strip(),
        "user": user if getattr(user, "pk", None) else None,
        "from_email": settings.DEFAULT_FROM_EMAIL,
        "subject": rendered.subject[:255],
        "template": template[:150],
        "body_text": rendered.text,
        "body_html": rendered.html,
        "key": key,
        "next_attempt_on": now,
    }
    if key and not new:
        try:
            with transaction.atomic():  # a concurrent twin of this key wins the race
                mail = OutgoingMail.objects.create(**fields)
        except IntegrityError:
            return OutgoingMail.objects.get(key=key)
    else:
        mail = OutgoingMail.objects.create(**fields)
    enqueue_on_commit(mail_send, mail.pk)
    return mail


@dataclass(frozen=True)
class MailToQueue:
    """One mail for ``mail_queue_many``: as ``mail_queue``'s arguments."""

    to: str
    template: str
    context: dict[str, Any]
    key: str
    user: Any = None


def mail_queue_many(mails: list[MailToQueue]) -> list[OutgoingMail]:
    """Queue many new mails at once (a list of invitations): each rendered as ``mail_queue``
    renders it, all written in bulk statements of 1,000, each sent by its own task after the
    commit. Their keys must be new (they name rows made in the current transaction, as
    ``mail_queue(new=True)``). Returns the mails, in order."""
    now = timezone.now()
    rows = []
    for mail in mails:
        rendered = mail_render(mail.template, mail.context)
        rows.append(
            OutgoingMail(
                to=mail.to.strip(),
                user=mail.user if getattr(mail.user, "pk", None) else None,
                from_email=settings.DEFAULT_FROM_EMAIL,
                subject=rendered.subject[:255],
                template=mail.template[:150],
                body_text=rendered.text,
                body_html=rendered.html,
                key=mail.key,
                next_attempt_on=now,
            )
        )
    made = OutgoingMail.objects.bulk_create(rows, batch_size=1000)
    ids = [m.pk for m in made]
    transaction.on_commit(lambda: [mail_send.delay(pk) for pk in ids])
    return made
