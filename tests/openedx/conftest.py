"""An Open edX stand-in per test module, served over real HTTP on loopback, and settings that
point the project at it. Nothing of the client is mocked: requests go through the network stack."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from courses.models import CourseRunEnrollment
from openedx.api import enrollment_edx_queue
from openedx.client import edx_client_reset
from openedx.standin import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_SERVICE_USERNAME,
    StandinControl,
    StandinServer,
)

YEAR = timezone.now().astimezone(dt.UTC).year
SERVICE = DEFAULT_SERVICE_USERNAME
# The source runs of the test catalog (tests/conftest.py ``catalog``), as Studio has them.
SEED = {
    "course-v1:MITxT+14.310x+SOURCE": {"title": "Data Analysis for Social Scientists"},
    "course-v1:MITxT+14.100x+SOURCE": {"title": "Microeconomics"},
    "course-v1:MITxT+14.73x+SOURCE": {"title": "The Challenges of Global Poverty"},
}
SOURCE_KEYS = sorted(SEED)
TOKEN = ("POST", "/oauth2/access_token", 200)
CLONE = "/studio/api/v1/course_runs/clone/"
ENROLL = "/api/enrollment/v1/enrollment"


def studio_run(key: str) -> str:
    """The Studio path of a run."""
    return f"/studio/api/v1/course_runs/{key}/"


def synced(key: str, source: str, *, clone: int = 201) -> list[tuple[str, str, int]]:
    """The three requests of one run's sync: GET the source, clone, PATCH."""
    return [
        ("GET", studio_run(source), 200),
        ("POST", CLONE, clone),
        ("PATCH", studio_run(key), 200),
    ]


@pytest.fixture(scope="module")
def standin_server():
    server = StandinServer(port=0, seed=SEED).start()
    yield server
    server.stop()


@pytest.fixture
def standin(standin_server):
    """The stand-in's control API, the stand-in reset to its seeded runs."""
    control = StandinControl(standin_server.url)
    control.reset()
    # Stalled requests (timeout faults) end soon after the client gave up on them.
    control.configure(stall_seconds=2.0)
    return control


def point_settings_at(settings, server: StandinServer) -> None:
    settings.OPENEDX_API_BASE_URL = server.url
    settings.OPENEDX_STUDIO_API_BASE_URL = server.studio_url
    settings.OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID = DEFAULT_CLIENT_ID
    settings.OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET = DEFAULT_CLIENT_SECRET
    settings.OPENEDX_CONNECT_TIMEOUT = 2.0
    settings.OPENEDX_READ_TIMEOUT = 0.5
    settings.OPENEDX_RETRY_ATTEMPTS = 3
    settings.OPENEDX_RETRY_BACKOFF = 0.01
    settings.OPENEDX_RETRY_BACKOFF_MAX = 0.05
    edx_client_reset()


@pytest.fixture
def edx(settings, standin_server, standin):
    """Open edX configured: the settings point at the module's stand-in (short timeouts,
    3 attempts, 10 ms backoff). Returns the stand-in's control API."""
    point_settings_at(settings, standin_server)
    return standin


@pytest.fixture
def enroll(django_capture_on_commit_callbacks):
    """Enroll a learner the way checkout does: create the enrollment, call the edX hook, commit
    (the queued task runs, Celery eager)."""

    def make(user, run) -> CourseRunEnrollment:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            enrollment = CourseRunEnrollment.objects.create(user=user, run=run)
            enrollment_edx_queue(enrollment)
        enrollment.refresh_from_db()
        return enrollment

    return make
