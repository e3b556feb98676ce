"""The Open edX client on its own, over real HTTP against the stand-in: the token request, the
backoff between retries, what it sends for open-ended runs, and how it reads refusals."""

import pytest

from openedx.client import EdxClient, EdxConfig
from openedx.exceptions import EdxRefused
from openedx.standin import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.openedx.conftest import CLONE, studio_run

SOURCE = "course-v1:MITxT+14.310x+SOURCE"
NEW = "course-v1:UAI_UX+14.310x+2026_C1"


def make_client(server, *, attempts=3, backoff=0.01, backoff_max=0.05, sleeps=None) -> EdxClient:
    config = EdxConfig(
        lms_url=server.url,
        studio_url=server.studio_url,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        connect_timeout=2.0,
        read_timeout=0.5,
        attempts=attempts,
        backoff=backoff,
        backoff_max=backoff_max,
    )
    return EdxClient(config, sleep=sleeps.append if sleeps is not None else lambda _: None)


def test_the_token_request_is_the_jwt_client_credentials_grant(standin_server, standin):
    make_client(standin_server).course_run_get(SOURCE)

    token, get = standin.log()
    assert (token["method"], token["path"], token["auth"], token["body"]) == (
        "POST",
        "/oauth2/access_token",
        None,
        {
            "grant_type": "client_credentials",
            "token_type": "jwt",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": "***",
        },
    )
    assert (get["method"], get["path"], get["status"], get["auth"]) == (
        "GET",
        studio_run(SOURCE),
        200,
        "JWT",
    )


def test_backoff_grows_exponentially_with_jitter_between_retries(standin_server, standin):
    sleeps: list[float] = []
    standin.fail("500", 3, path=CLONE)
    client = make_client(standin_server, attempts=4, backoff=0.1, backoff_max=10, sleeps=sleeps)

    assert client.course_run_clone(source_key=SOURCE, destination_key=NEW) is True

    # Waits: 0.1·2^(n-1) plus up to 0.1 of jitter, after attempts 1, 2 and 3.
    assert len(sleeps) == 3
    for n, wait in enumerate(sleeps, start=1):
        base = 0.1 * 2 ** (n - 1)
        assert base <= wait <= base + 0.1
    assert [r[2] for r in standin.requests(prefix=CLONE)] == [500, 500, 500, 201]


def test_backoff_is_capped(standin_server, standin):
    sleeps: list[float] = []
    standin.fail("500", 3, path=CLONE)
    client = make_client(standin_server, attempts=4, backoff=1.0, backoff_max=1.5, sleeps=sleeps)

    client.course_run_clone(source_key=SOURCE, destination_key=NEW)

    assert sleeps[1:] == [1.5, 1.5]
    assert 1.0 <= sleeps[0] <= 1.5


def test_clone_of_a_missing_source_is_refused_once_without_retry(standin_server, standin):
    client = make_client(standin_server)

    with pytest.raises(EdxRefused) as refusal:
        client.course_run_clone(source_key="course-v1:MITxT+NOPE+SOURCE", destination_key=NEW)

    assert (refusal.value.status, refusal.value.message) == (
        400,
        f"Studio clone of course-v1:MITxT+NOPE+SOURCE into {NEW} refused (400): Source course "
        "does not exist.",
    )
    assert standin.requests(prefix=CLONE) == [("POST", CLONE, 400)]


def test_patch_of_an_unknown_run_is_refused_with_404(standin_server, standin):
    client = make_client(standin_server)

    with pytest.raises(EdxRefused) as refusal:
        client.course_run_update(NEW, title="T", self_paced=True, schedule={"start": None})

    assert (refusal.value.status, refusal.value.message) == (
        404,
        f"Studio PATCH course run {NEW} refused (404): Not found.",
    )


def test_an_open_ended_run_leaves_out_end_and_sends_null_enrollment_end(standin_server, standin):
    client = make_client(standin_server)
    client.course_run_clone(source_key=SOURCE, destination_key=NEW)

    run = client.course_run_update(
        NEW,
        title="Data Analysis",
        self_paced=True,
        schedule={
            "start": "2026-03-01T09:30:00Z",
            "end": None,
            "enrollment_start": "2026-03-01T09:30:00Z",
            "enrollment_end": None,
        },
    )

    # Studio refuses a null end; the clone has none, so leaving it out keeps the run open-ended.
    assert run["schedule"] == {
        "start": "2026-03-01T09:30:00Z",
        "end": None,
        "enrollment_start": "2026-03-01T09:30:00Z",
        "enrollment_end": None,
    }
    assert (run["title"], run["pacing_type"]) == ("Data Analysis", "self_paced")
    assert standin.requests()[-1] == ("PATCH", studio_run(NEW), 200)
