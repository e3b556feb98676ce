"""``make demo`` with the ``OPENEDX_*`` settings pointing at a running ``openedx_standin``: the
walkthroughs' contract runs are created there, with their keys, titles, dates and pacing."""

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from b2b.models import ContractPage
from courses.models import CourseRun
from main.services import site_configure
from openedx.standin import StandinControl
from tests.openedx.conftest import YEAR

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def standin_process():
    """``manage.py openedx_standin --port 0`` with the shipped catalog; its URL."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "openedx_standin", "--port", "0", "--quiet"],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = process.stdout.readline().split()[5]
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


@pytest.mark.django_db(transaction=True)
def test_demo_creates_the_contract_runs_in_the_standin(
    standin_process, settings, tmp_path, monkeypatch
):
    settings.OPENEDX_API_BASE_URL = standin_process
    settings.OPENEDX_STUDIO_API_BASE_URL = f"{standin_process}/studio"
    settings.OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID = "standin-client"
    settings.OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET = "standin-secret"
    monkeypatch.chdir(tmp_path)
    site_configure()
    call_command("load_catalog", stdout=io.StringIO(), stderr=io.StringIO())
    out = io.StringIO()

    call_command("b2b_demo", stdout=out, stderr=io.StringIO())

    runs = list(CourseRun.objects.filter(b2b_contract__isnull=False).order_by("courseware_id"))
    assert len(runs) == 7
    assert {run.edx_status for run in runs} == {"created"}
    held = StandinControl(standin_process).state()
    for run in runs:
        studio = held["runs"][run.courseware_id]
        assert (studio["title"], studio["pacing_type"]) == (run.course.title, "self_paced")
        assert studio["schedule"] == {
            "start": run.start_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": None,
            "enrollment_start": run.start_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "enrollment_end": None,
        }
    typical = ContractPage.objects.get(name="UniversityX Contract")
    assert f"course-v1:UAI_UniversityX+14.100x+{YEAR}_C{typical.pk}" in held["runs"]
    assert held["tokens_issued"] == 1
    text = out.getvalue()
    # Each add says where its runs stand in edX; the listings show them created.
    assert [line for line in text.splitlines() if line.startswith("Open edX: ")][:3] == [
        "Open edX: 1 created.",
        "Open edX: 5 created.",
        "Open edX: 1 created.",
    ]
    assert sum(1 for line in text.splitlines() if line.rstrip().endswith("│ created    │")) == 7
    assert text.rstrip().endswith(
        f"Open edX: 7 of 7 contract runs created in Studio at {standin_process}/studio."
    )
