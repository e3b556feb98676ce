"""Contract runs re-run in Open edX Studio through the service account (SPEC §8), over real HTTP
against the stand-in: the happy path, token reuse and refresh, and every fault the client meets."""

import datetime as dt
import json
import logging

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from courses.models import CourseRun, EdxStatus
from openedx import api as edx_api
from openedx.services import course_run_sync
from openedx.tasks import course_run_clone
from tests.b2b.helpers import new_contract
from tests.factories import course_with_source
from tests.openedx.conftest import CLONE, SERVICE, TOKEN, YEAR, studio_run, synced

pytestmark = pytest.mark.django_db

DATA_SOURCE = "course-v1:MITxT+14.310x+SOURCE"
MICRO_SOURCE = "course-v1:MITxT+14.100x+SOURCE"
POVERTY_SOURCE = "course-v1:MITxT+14.73x+SOURCE"


@pytest.fixture
def contract(wagtail_site, catalog):
    return new_contract(
        "Capped",
        max_learners=3,
        enrollment_fixed_price="25",
        contract_start=dt.date(2096, 2, 1),
        contract_end=dt.date(2096, 6, 30),
    )


def key_of(contract, number: str) -> str:
    return f"course-v1:UAI_UX+{number}+{YEAR}_C{contract.pk}"


def studio_view(key: str, title: str) -> dict:
    """A contract run as Studio shows it after the sync (contract dates 2096-02-01..06-30)."""
    return {
        "id": key,
        "title": title,
        "schedule": {
            "start": "2096-02-01T00:00:00Z",
            "end": "2096-06-30T23:59:59Z",
            "enrollment_start": "2096-02-01T00:00:00Z",
            "enrollment_end": "2096-06-30T23:59:59Z",
        },
        "pacing_type": "self_paced",
        # PATCH keeps the team the clone gave the run; a PUT without team would have emptied it.
        "team": [{"user": SERVICE, "role": "instructor"}],
        "images": {
            "card_image": f"/asset-v1:{key.removeprefix('course-v1:')}"
            "+type@asset+block@images_course_image.jpg"
        },
    }


def edx_state(run: CourseRun) -> tuple:
    run.refresh_from_db()
    return run.edx_status, run.edx_error, run.edx_attempts


def test_program_runs_are_cloned_and_updated_with_one_token(
    edx, contract, run_command, add_courseware
):
    add_courseware(contract, "program-v1:MITx+DEDP")

    data, micro, poverty = (key_of(contract, n) for n in ("14.310x", "14.100x", "14.73x"))
    state = edx.state()
    assert state["tokens_issued"] == 1
    assert edx.requests() == [
        TOKEN,
        *synced(data, DATA_SOURCE),
        *synced(micro, MICRO_SOURCE),
        *synced(poverty, POVERTY_SOURCE),
    ]
    assert state["runs"][data] == studio_view(data, "Data Analysis for Social Scientists")
    assert state["runs"][micro] == studio_view(micro, "Microeconomics")
    assert state["runs"][poverty] == studio_view(poverty, "The Challenges of Global Poverty")
    assert sorted(
        CourseRun.objects.filter(b2b_contract=contract).values_list(
            "courseware_id", "edx_status", "edx_error", "edx_attempts", "edx_source_key"
        )
    ) == sorted(
        [
            (data, "created", "", 1, DATA_SOURCE),
            (micro, "created", "", 1, MICRO_SOURCE),
            (poverty, "created", "", 1, POVERTY_SOURCE),
        ]
    )
    listing = json.loads(
        run_command(
            "b2b_list", "courseware", "--contract", str(contract.pk), "--format", "json"
        ).stdout
    )
    assert [(row["run"], row["edx_status"]) for row in listing if row["type"] == "run"] == sorted(
        [(data, "created"), (micro, "created"), (poverty, "created")]
    )


def test_the_clone_and_the_patch_send_exactly_this(edx, contract, add_courseware):
    add_courseware(contract, "course-v1:MITxT+14.310x")

    key = key_of(contract, "14.310x")
    sent = [(r["method"], r["auth"], r["body"]) for r in edx.log()[1:]]
    assert sent == [
        ("GET", "JWT", None),
        ("POST", "JWT", {"source_course_id": DATA_SOURCE, "destination_course_id": key}),
        (
            "PATCH",
            "JWT",
            {
                "title": "Data Analysis for Social Scientists",
                "pacing_type": "self_paced",
                "schedule": {
                    "start": "2096-02-01T00:00:00Z",
                    "end": "2096-06-30T23:59:59Z",
                    "enrollment_start": "2096-02-01T00:00:00Z",
                    "enrollment_end": "2096-06-30T23:59:59Z",
                },
            },
        ),
    ]


def test_the_token_is_reused_by_later_runs(edx, contract, add_courseware):
    add_courseware(contract, "course-v1:MITxT+14.310x")
    add_courseware(contract, "course-v1:MITxT+14.100x")

    assert edx.state()["tokens_issued"] == 1
    assert edx.requests(prefix="/oauth2/") == [TOKEN]


def test_a_token_is_not_used_in_its_last_minute(edx, contract, add_courseware):
    # A token that lives 60 s is already in its last minute: every request gets a new one.
    edx.configure(token_lifetime=60)
    add_courseware(contract, "course-v1:MITxT+14.310x")

    key = key_of(contract, "14.310x")
    assert edx.requests() == [
        TOKEN,
        ("GET", studio_run(DATA_SOURCE), 200),
        TOKEN,
        ("POST", CLONE, 201),
        TOKEN,
        ("PATCH", studio_run(key), 200),
    ]
    assert edx.state()["tokens_issued"] == 3


def test_token_expired_mid_batch_is_refreshed_once_without_duplicate_clones(
    settings, standin_server, edx, contract, run_command, add_courseware
):
    # Three runs made while edX was off, then synced in one batch; edX expires the token
    # after the first run's three requests.
    settings.OPENEDX_API_BASE_URL = ""
    add_courseware(contract, "program-v1:MITx+DEDP")
    assert set(
        CourseRun.objects.filter(b2b_contract=contract).values_list("edx_status", flat=True)
    ) == {"not-configured"}
    settings.OPENEDX_API_BASE_URL = standin_server.url
    edx.expire_tokens(after_requests=3)

    out = run_command("b2b_courseware", "sync-edx", str(contract.pk), "--format", "json")

    data, micro, poverty = (key_of(contract, n) for n in ("14.310x", "14.100x", "14.73x"))
    # sync-edx goes by key: 14.100x, 14.310x, 14.73x.
    assert edx.requests() == [
        TOKEN,
        *synced(micro, MICRO_SOURCE),
        ("GET", studio_run(DATA_SOURCE), 401),
        TOKEN,
        *synced(data, DATA_SOURCE),
        *synced(poverty, POVERTY_SOURCE),
    ]
    assert edx.state()["tokens_issued"] == 2
    assert sorted(edx.state()["runs"]) == sources_and(data, micro, poverty)
    items = json.loads(out.stdout)["items"]
    assert [(i["run"], i["before"], i["after"], i["outcome"]) for i in items] == [
        (micro, "not-configured", "created", "created"),
        (data, "not-configured", "created", "created"),
        (poverty, "not-configured", "created", "created"),
    ]


def sources_and(*keys: str) -> list[str]:
    """The stand-in's run keys: the seeded source runs and ``keys``, sorted."""
    return sorted([DATA_SOURCE, MICRO_SOURCE, POVERTY_SOURCE, *keys])


def test_destination_already_in_studio_counts_as_done_and_is_updated(edx, contract, add_courseware):
    key = key_of(contract, "14.310x")
    edx.add_run(
        key,
        "An old title",
        pacing_type="instructor_paced",
        team=[{"user": SERVICE, "role": "instructor"}],
    )

    add_courseware(contract, "course-v1:MITxT+14.310x")

    run = CourseRun.objects.get(courseware_id=key)
    assert edx_state(run) == ("created", "", 1)
    assert edx.requests() == [TOKEN, *synced(key, DATA_SOURCE, clone=400)]
    assert edx.state()["runs"][key] == studio_view(key, "Data Analysis for Social Scientists")
    assert course_run_sync(run.pk).outcome == "already-created"


def test_two_server_errors_then_success_is_retried_and_created(edx, contract, add_courseware):
    edx.fail("500", 2, path=CLONE)

    add_courseware(contract, "course-v1:MITxT+14.310x")

    key = key_of(contract, "14.310x")
    assert edx_state(CourseRun.objects.get(courseware_id=key)) == ("created", "", 1)
    assert edx.requests() == [
        TOKEN,
        ("GET", studio_run(DATA_SOURCE), 200),
        ("POST", CLONE, 500),
        ("POST", CLONE, 500),
        ("POST", CLONE, 201),
        ("PATCH", studio_run(key), 200),
    ]
    assert sorted(edx.state()["runs"]) == sources_and(key)


def test_server_errors_past_the_retries_fail_the_run_with_the_error(edx, contract, add_courseware):
    edx.fail("500", 3, path=CLONE)

    add_courseware(contract, "course-v1:MITxT+14.310x")

    key = key_of(contract, "14.310x")
    assert edx_state(CourseRun.objects.get(courseware_id=key)) == (
        "failed",
        f"Studio clone of {DATA_SOURCE} into {key}: 500 Internal Server Error (injected by the "
        "stand-in).; gave up after 3 attempts",
        1,
    )
    assert [r[2] for r in edx.requests(prefix=CLONE)] == [500, 500, 500]


def test_missing_source_run_fails_at_once_with_the_error_recorded(edx, contract, add_courseware):
    course_with_source("course-v1:MITxT+21A.819x", "Not in Studio")

    add_courseware(contract, "course-v1:MITxT+21A.819x")

    run = CourseRun.objects.get(courseware_id=key_of(contract, "21A.819x"))
    assert edx_state(run) == (
        "failed",
        "The source run course-v1:MITxT+21A.819x+SOURCE does not exist in Studio (GET answered "
        "404): create it in Studio, or fix the course's source run here, then run sync-edx again.",
        1,
    )
    # No retry, no clone: a 404 is final.
    assert edx.requests() == [TOKEN, ("GET", studio_run("course-v1:MITxT+21A.819x+SOURCE"), 404)]


def test_a_timeout_is_retried(edx, contract, add_courseware):
    edx.fail("timeout", 1, path=CLONE)

    add_courseware(contract, "course-v1:MITxT+14.310x")

    key = key_of(contract, "14.310x")
    assert edx_state(CourseRun.objects.get(courseware_id=key)) == ("created", "", 1)
    assert edx.requests() == [
        TOKEN,
        ("GET", studio_run(DATA_SOURCE), 200),
        ("POST", CLONE, None),
        ("POST", CLONE, 201),
        ("PATCH", studio_run(key), 200),
    ]


def test_a_clone_whose_answer_timed_out_is_found_done_on_the_retry(edx, contract, add_courseware):
    # Studio cloned the run, but the answer never came: the retry finds it, once, and goes on.
    edx.fail("timeout-after", 1, path=CLONE)

    add_courseware(contract, "course-v1:MITxT+14.310x")

    key = key_of(contract, "14.310x")
    assert edx_state(CourseRun.objects.get(courseware_id=key)) == ("created", "", 1)
    assert edx.requests() == [
        TOKEN,
        ("GET", studio_run(DATA_SOURCE), 200),
        ("POST", CLONE, None),
        ("POST", CLONE, 400),
        ("PATCH", studio_run(key), 200),
    ]
    assert edx.state()["runs"][key] == studio_view(key, "Data Analysis for Social Scientists")


def test_timeouts_past_the_retries_fail_then_sync_edx_creates_it(
    edx, contract, run_command, add_courseware
):
    edx.fail("timeout", 3, path=CLONE)
    add_courseware(contract, "course-v1:MITxT+14.310x")
    key = key_of(contract, "14.310x")
    run = CourseRun.objects.get(courseware_id=key)
    assert edx_state(run) == (
        "failed",
        f"Studio clone of {DATA_SOURCE} into {key}: no answer within 0.5 s; "
        "gave up after 3 attempts",
        1,
    )

    out = run_command("b2b_courseware", "sync-edx", str(contract.pk))

    assert edx_state(run) == ("created", "", 2)
    assert out.stdout.endswith(
        f"Contract {contract.pk}: synced 1 run and 0 enrollments with Open edX: 1 created, "
        "0 failed.\n"
    )
    assert [r[2] for r in edx.requests(prefix=CLONE)] == [None, None, None, 201]


def test_the_task_delivered_twice_clones_once(edx, contract, add_courseware):
    add_courseware(contract, "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(courseware_id=key_of(contract, "14.310x"))
    before = edx.requests()

    assert course_run_clone.delay(run.pk).get() == "created"

    assert edx.requests() == before
    assert [r[2] for r in before if r[1] == CLONE] == [201]
    assert edx_state(run) == ("created", "", 1)


def test_a_sync_claimed_by_another_delivery_is_left_to_it(edx, contract, add_courseware, settings):
    settings.OPENEDX_API_BASE_URL = ""
    add_courseware(contract, "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(courseware_id=key_of(contract, "14.310x"))
    settings.OPENEDX_API_BASE_URL = edx.url
    # Another worker claimed it a minute ago and is still at it.
    claimed = timezone.now() - dt.timedelta(minutes=1)
    CourseRun.objects.filter(pk=run.pk).update(edx_status="pending", edx_last_attempt_on=claimed)

    result = course_run_sync(run.pk)

    assert (result.outcome, result.status) == ("in-progress", "pending")
    assert result.detail == (
        "another sync is at work on it (its claim lapses at "
        f"{(claimed + dt.timedelta(minutes=15)).isoformat(timespec='seconds')})"
    )
    assert edx.requests() == []


def test_a_claim_older_than_the_lease_is_taken_over(edx, contract, add_courseware, settings):
    settings.OPENEDX_API_BASE_URL = ""
    add_courseware(contract, "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(courseware_id=key_of(contract, "14.310x"))
    settings.OPENEDX_API_BASE_URL = edx.url
    # A worker died mid-sync 16 minutes ago.
    CourseRun.objects.filter(pk=run.pk).update(
        edx_status="pending", edx_last_attempt_on=timezone.now() - dt.timedelta(minutes=16)
    )

    result = course_run_sync(run.pk)

    assert (result.outcome, result.status) == ("created", "created")
    assert edx_state(run) == ("created", "", 1)


def test_wrong_credentials_fail_without_retry(edx, contract, add_courseware, settings):
    settings.OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET = "not-the-secret"

    add_courseware(contract, "course-v1:MITxT+14.310x")

    run = CourseRun.objects.get(courseware_id=key_of(contract, "14.310x"))
    assert edx_state(run) == (
        "failed",
        f"The Open edX token endpoint {edx.url}/oauth2/access_token refused the service account "
        "(invalid_client: no description): check OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID and "
        "_SECRET.",
        1,
    )
    assert edx.requests() == [("POST", "/oauth2/access_token", 401)]


def test_a_token_refused_even_when_fresh_fails_after_one_refresh(
    edx, contract, add_courseware, settings
):
    # Studio does not accept the LMS's tokens (another signing key): one refresh, then failed.
    from openedx.standin import StandinServer

    other = StandinServer(port=0, seed={DATA_SOURCE: {"title": "x"}}).start()
    try:
        settings.OPENEDX_STUDIO_API_BASE_URL = other.studio_url
        add_courseware(contract, "course-v1:MITxT+14.310x")
        studio_log = [
            (r["method"], r["path"], r["status"]) for r in other.state.snapshot()["requests"]
        ]
    finally:
        other.stop()
    run = CourseRun.objects.get(courseware_id=key_of(contract, "14.310x"))
    assert edx_state(run) == (
        "failed",
        f"Studio GET course run {DATA_SOURCE} refused (401) even with a new token: Error decoding "
        "token.. Check that the service account of OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID is "
        "active and staff in Open edX.",
        1,
    )
    assert edx.requests() == [TOKEN, TOKEN]
    assert studio_log == [("GET", studio_run(DATA_SOURCE), 401)] * 2


def test_edx_down_fails_after_the_retries(edx, contract, add_courseware, settings):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.OPENEDX_API_BASE_URL = f"http://127.0.0.1:{port}"
    settings.OPENEDX_STUDIO_API_BASE_URL = f"http://127.0.0.1:{port}/studio"

    add_courseware(contract, "course-v1:MITxT+14.310x")

    run = CourseRun.objects.get(courseware_id=key_of(contract, "14.310x"))
    assert edx_state(run) == (
        "failed",
        f"Studio GET course run {DATA_SOURCE}: cannot connect to http://127.0.0.1:{port}: "
        "connection refused; gave up after 3 attempts",
        1,
    )


def test_not_configured_sends_nothing_and_says_so_once(
    standin, contract, run_command, caplog, monkeypatch
):
    monkeypatch.setattr(edx_api, "_off_logged", False)
    caplog.set_level(logging.INFO, logger="openedx")

    out = run_command("b2b_courseware", "add", str(contract.pk), "program-v1:MITx+DEDP")

    assert set(
        CourseRun.objects.filter(b2b_contract=contract).values_list("edx_status", flat=True)
    ) == {EdxStatus.NOT_CONFIGURED}
    assert out.stderr.count("Open edX is not configured") == 1
    off = [r.getMessage() for r in caplog.records if "Open edX integration off" in r.getMessage()]
    assert off == [
        "Open edX integration off (unset: OPENEDX_API_BASE_URL, OPENEDX_STUDIO_API_BASE_URL, "
        "OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID, OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET): "
        "runs and enrollments are kept here only, with edx_status not-configured."
    ]
    run = CourseRun.objects.filter(b2b_contract=contract).first()
    assert course_run_sync(run.pk).outcome == "not-configured"
    with pytest.raises(CommandError) as refusal:
        run_command("b2b_courseware", "sync-edx", str(contract.pk))
    assert str(refusal.value) == (
        "Open edX is not configured (unset: OPENEDX_API_BASE_URL, OPENEDX_STUDIO_API_BASE_URL, "
        "OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID, OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET): "
        "set them (see the README's Settings) and run sync-edx again. Nothing was sent; "
        "--dry-run lists what would be synced."
    )
    assert standin.requests() == []
