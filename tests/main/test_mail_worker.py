"""Outgoing mail through a real Celery worker and a real SMTP server (aiosmtpd on loopback): a
server that says "try later" twice gets the mail on the third attempt, Celery retrying after the
backoff; the task delivered again sends nothing more.

On PostgreSQL (the worker, a separate process, shares the test database) when
``TEST_CELERY_BROKER_URL`` names a broker, as ``.ci/run`` sets it; skipped otherwise. A queue of
its own keeps other workers' tasks apart.
"""

import os
import signal
import subprocess
import sys
import uuid

import pytest
from django.db import connection

from main.models import OutgoingMail
from tests.main.smtp import SMTPServer
from tests.openedx.test_celery_worker import BROKER, PROJECT, broker_up, database_url, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
    pytest.mark.skipif(
        not BROKER, reason="set TEST_CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/3)"
    ),
]

QUEUE = (
    "from main.mail import mail_queue; "
    "print(mail_queue('ada@example.edu', template='account/email/unknown_account', "
    "context={'email': 'ada@example.edu', 'signup_url': 'http://127.0.0.1:8000/signup/'}).pk)"
)


def send_results(log) -> list[str]:
    """What the worker's ``mail_send`` tasks returned, in order."""
    return [
        line.rsplit(": ", 1)[1]
        for line in log.read_text().splitlines()
        if "main.tasks.mail_send[" in line and " succeeded in " in line
    ]


def manage(env, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_worker_retries_a_refused_mail_with_backoff_and_never_sends_it_twice(tmp_path):
    assert broker_up(), f"the broker at {BROKER} does not answer"
    with SMTPServer() as smtp:
        smtp.recorder.data_replies.extend(["451 4.3.0 Try again later"] * 2)
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": BROKER,
            "CELERY_TASK_DEFAULT_QUEUE": f"b2b-test-{uuid.uuid4().hex}",
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
            "DEFAULT_FROM_EMAIL": "Learning <no-reply@learn.example.edu>",
            "MAIL_RETRY_BACKOFF": "0.5",
            "MAIL_RETRY_BACKOFF_MAX": "1",
        }
        log_path = tmp_path / "worker.log"
        with log_path.open("w") as log:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "main",
                    "worker",
                    "--pool",
                    "solo",
                    "--loglevel",
                    "info",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=PROJECT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(
                lambda: "ready." in log_path.read_text(),
                seconds=90,
                what="the worker",
                log=log_path,
            )
            mail_id = int(manage(env, "shell", "--no-imports", "-c", QUEUE).strip())

            def sent() -> bool:
                return OutgoingMail.objects.get(pk=mail_id).status == "sent"

            wait_for(sent, seconds=90, what="the mail to be sent", log=log_path)
            manage(
                env,
                "shell",
                "-c",
                f"from main.tasks import mail_send; mail_send.delay({mail_id})",
            )
            wait_for(
                lambda: len(send_results(log_path)) == 2,
                seconds=90,
                what="the second delivery",
                log=log_path,
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        received = list(smtp.recorder.received)

    text = log_path.read_text()
    # Two refusals, each retried by Celery after the backoff (0.5 s, then 1 s: the cap).
    assert text.count("main.tasks.mail_send[") >= 4
    assert [line.split("Retry in ")[1] for line in text.splitlines() if "Retry in " in line] == [
        "0.5s",
        "1.0s",
    ]
    assert send_results(log_path) == ["'sent'", "'sent'"]
    assert [(r.mail_from, r.rcpt_tos, r.message["Subject"]) for r in received] == [
        ("no-reply@learn.example.edu", ["ada@example.edu"], "No account uses this email address")
    ]
    mail = OutgoingMail.objects.get(pk=mail_id)
    assert (mail.status, mail.attempts, mail.last_error) == ("sent", 3, "")
