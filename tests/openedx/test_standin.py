"""The stand-in speaks Open edX's protocol: status codes and error bodies, checked with plain HTTP
requests; and ``manage.py openedx_standin`` serves it."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from openedx.standin import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, catalog_seed

SOURCE = "course-v1:MITxT+14.310x+SOURCE"
NEW = "course-v1:UAI_UX+14.310x+2026_C1"
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lms(standin_server, standin):
    return standin_server.url


@pytest.fixture
def studio(standin_server):
    return f"{standin_server.studio_url}/api/v1/course_runs/"


def token(lms: str, **overrides) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "token_type": "jwt",
        **overrides,
    }
    return requests.post(f"{lms}/oauth2/access_token", data=form, timeout=5)


@pytest.fixture
def auth(lms):
    return {"Authorization": f"JWT {token(lms).json()['access_token']}"}


def answer(response: requests.Response) -> tuple[int, object]:
    return response.status_code, response.json()


def test_token_endpoint(lms, standin):
    ok = token(lms)
    body = ok.json()
    assert (ok.status_code, body["expires_in"], body["token_type"], body["scope"]) == (
        200,
        3600,
        "JWT",
        "read write",
    )
    assert body["access_token"].count(".") == 2
    assert answer(token(lms, client_secret="wrong")) == (401, {"error": "invalid_client"})
    assert answer(token(lms, client_id="someone")) == (401, {"error": "invalid_client"})
    assert answer(token(lms, grant_type="password")) == (400, {"error": "unsupported_grant_type"})
    assert standin.state()["tokens_issued"] == 1


def test_requests_without_a_valid_jwt_are_401(lms, studio, standin, auth):
    url = f"{studio}{SOURCE}/"
    missing = requests.get(url, timeout=5)
    assert answer(missing) == (401, {"detail": "Authentication credentials were not provided."})
    assert missing.headers["WWW-Authenticate"] == 'JWT realm="api"'
    bearer = {"Authorization": auth["Authorization"].replace("JWT", "Bearer")}
    assert answer(requests.get(url, headers=bearer, timeout=5))[0] == 401
    garbage = {"Authorization": "JWT not.a.token"}
    assert answer(requests.get(url, headers=garbage, timeout=5)) == (
        401,
        {"detail": "Error decoding token."},
    )
    assert requests.get(url, headers=auth, timeout=5).status_code == 200
    standin.expire_tokens()
    assert answer(requests.get(url, headers=auth, timeout=5)) == (
        401,
        {"detail": "Signature has expired."},
    )


def test_a_token_expires_with_its_lifetime(lms, studio, standin):
    import time

    standin.configure(token_lifetime=1)
    headers = {"Authorization": f"JWT {token(lms).json()['access_token']}"}
    time.sleep(2.1)
    assert answer(requests.get(f"{studio}{SOURCE}/", headers=headers, timeout=5)) == (
        401,
        {"detail": "Signature has expired."},
    )


def test_course_runs_get_clone_patch_put(studio, auth, standin):
    assert answer(requests.get(f"{studio}{NEW}/", headers=auth, timeout=5)) == (
        404,
        {"detail": "Not found."},
    )
    clone = {"source_course_id": SOURCE, "destination_course_id": NEW}
    assert answer(requests.post(f"{studio}clone/", json=clone, headers=auth, timeout=5)) == (
        201,
        {"message": "Course cloned successfully."},
    )
    assert answer(requests.post(f"{studio}clone/", json=clone, headers=auth, timeout=5)) == (
        400,
        {"non_field_errors": ["Destination course already exists."]},
    )
    missing = {"source_course_id": "course-v1:MITxT+NOPE+SOURCE", "destination_course_id": NEW}
    assert answer(requests.post(f"{studio}clone/", json=missing, headers=auth, timeout=5)) == (
        400,
        {"non_field_errors": ["Source course does not exist."]},
    )
    assert answer(requests.post(f"{studio}clone/", json={}, headers=auth, timeout=5)) == (
        400,
        {
            "source_course_id": ["This field is required."],
            "destination_course_id": ["This field is required."],
        },
    )
    created = requests.get(f"{studio}{NEW}/", headers=auth, timeout=5).json()
    assert (created["title"], created["pacing_type"], created["schedule"]["start"]) == (
        "Data Analysis for Social Scientists",
        "instructor_paced",
        "2030-01-01T00:00:00Z",
    )
    team = [{"user": "b2b-service-worker", "role": "instructor"}]
    assert created["team"] == team

    bad = {"pacing_type": "fast", "schedule": {"start": None, "end": "tomorrow"}}
    assert answer(requests.patch(f"{studio}{NEW}/", json=bad, headers=auth, timeout=5)) == (
        400,
        {
            "pacing_type": ['"fast" is not a valid choice.'],
            "schedule": {
                "start": ["This field may not be null."],
                "end": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ],
            },
        },
    )
    patch = {
        "title": "Contract run",
        "pacing_type": "self_paced",
        "schedule": {"start": "2026-02-01T00:00:00Z", "enrollment_end": None},
    }
    patched = requests.patch(f"{studio}{NEW}/", json=patch, headers=auth, timeout=5).json()
    assert (patched["title"], patched["pacing_type"], patched["schedule"], patched["team"]) == (
        "Contract run",
        "self_paced",
        {
            "start": "2026-02-01T00:00:00Z",
            "end": None,
            "enrollment_start": None,
            "enrollment_end": None,
        },
        team,
    )
    assert answer(
        requests.patch(
            f"{studio}course-v1:UAI_UX+NOPE+2026_C1/", json=patch, headers=auth, timeout=5
        )
    ) == (404, {"detail": "Not found."})
    # A PUT without a team empties the course team, as Studio's does.
    put = {
        "title": "Contract run",
        "schedule": {"start": "2026-02-01T00:00:00Z", "end": "2026-06-30T23:59:59Z"},
    }
    assert requests.put(f"{studio}{NEW}/", json=put, headers=auth, timeout=5).json()["team"] == []
    assert answer(requests.delete(f"{studio}{NEW}/", headers=auth, timeout=5)) == (
        405,
        {"detail": 'Method "DELETE" not allowed.'},
    )


def test_enrollment_endpoint(lms, auth, standin):
    url = f"{lms}/api/enrollment/v1/enrollment"

    def enroll(**body):
        return answer(requests.post(url, json=body, headers=auth, timeout=5))

    assert enroll(user="ada") == (
        400,
        {"message": "Course ID must be specified to create a new enrollment."},
    )
    assert enroll(user="ada", course_details={"course_id": NEW}) == (
        400,
        {"message": f"No course '{NEW}' found for enrollment"},
    )
    assert enroll(user="ada", mode="verified", course_details={"course_id": SOURCE}) == (
        400,
        {
            "message": f"The [verified] course mode is expired or otherwise unavailable for course "
            f"run [{SOURCE}]."
        },
    )
    status, first = enroll(
        user="ada",
        mode="audit",
        is_active=True,
        course_details={"course_id": SOURCE},
        force_enrollment=True,
    )
    assert status == 200
    assert (first["user"], first["mode"], first["is_active"], first["course_details"]) == (
        "ada",
        "audit",
        True,
        {"course_id": SOURCE, "course_name": "Data Analysis for Social Scientists"},
    )
    assert enroll(user="ada", mode="audit", course_details={"course_id": SOURCE}) == (200, first)
    assert len(standin.state()["enrollments"]) == 1
    standin.configure(auto_users=False)
    assert enroll(user="bob", course_details={"course_id": SOURCE}) == (
        406,
        {"message": "The user bob does not exist."},
    )
    standin.add_user("bob")
    assert enroll(user="bob", course_details={"course_id": SOURCE})[0] == 200


def test_faults_fail_the_next_requests(lms, studio, auth, standin):
    url = f"{studio}{SOURCE}/"
    standin.fail("500", 2, path="/studio/")
    assert [requests.get(url, headers=auth, timeout=5).status_code for _ in range(3)] == [
        500,
        500,
        200,
    ]
    standin.configure(stall_seconds=1.0)
    standin.fail("timeout", 1)
    with pytest.raises(requests.Timeout):
        requests.get(url, headers=auth, timeout=0.3)
    assert requests.get(url, headers=auth, timeout=5).status_code == 200
    assert [(r["status"], r["fault"]) for r in standin.log()][-5:] == [
        (500, "500"),
        (500, "500"),
        (200, None),
        (None, "timeout"),
        (200, None),
    ]
    bad = requests.post(f"{lms}/_standin/faults", json={"mode": "teapot"}, timeout=5)
    assert answer(bad) == (
        400,
        {
            "detail": "mode must be one of 500, timeout, timeout-after and count a whole "
            "number of at least 1."
        },
    )


def test_reset_forgets_all_but_the_seeded_runs(lms, studio, auth, standin):
    requests.post(
        f"{studio}clone/",
        json={"source_course_id": SOURCE, "destination_course_id": NEW},
        headers=auth,
        timeout=5,
    )
    standin.configure(token_lifetime=5)
    standin.reset()
    state = standin.state()
    assert (sorted(state["runs"]), state["tokens_issued"], state["requests"]) == (
        ["course-v1:MITxT+14.100x+SOURCE", SOURCE, "course-v1:MITxT+14.73x+SOURCE"],
        0,
        [],
    )
    assert state["config"]["token_lifetime"] == 3600


def test_catalog_seed_has_every_source_run():
    seed = catalog_seed(PROJECT / "courses" / "data" / "catalog.json")
    catalog = json.loads((PROJECT / "courses" / "data" / "catalog.json").read_text())
    sources = {c["source_run"]["courseware_id"] for c in catalog["courses"] if c.get("source_run")}
    assert sources and sources <= set(seed)
    assert seed["course-v1:MITxT+14.310x+SOURCE"] == {
        "title": "Data Analysis for Social Scientists"
    }


def test_the_command_serves_until_terminated():
    process = subprocess.Popen(
        [sys.executable, "manage.py", "openedx_standin", "--port", "0", "--empty"],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("Open edX stand-in listening on http://127.0.0.1:")
        url = first.split()[5]
        lines = [process.stdout.readline().strip() for _ in range(6)]
        assert lines == [
            "0 runs loaded. Point the project at it with:",
            f"export OPENEDX_API_BASE_URL={url}",
            f"export OPENEDX_STUDIO_API_BASE_URL={url}/studio",
            f"export OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID={DEFAULT_CLIENT_ID}",
            f"export OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET={DEFAULT_CLIENT_SECRET}",
            f"What it holds: curl {url}/_standin/state   (Ctrl-C stops it)",
        ]
        assert token(url).status_code == 200
        assert process.stdout.readline().strip() == "POST /oauth2/access_token 200"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert err.strip().endswith("Stopped.")


def test_the_command_refuses_a_bad_port_and_a_busy_one(standin_server):
    bad = subprocess.run(
        [sys.executable, "manage.py", "openedx_standin", "--port", "http"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "'http' is not a port: give a number such as 8060." in bad.stderr
    port = standin_server.url.rsplit(":", 1)[1]
    busy = subprocess.run(
        [sys.executable, "manage.py", "openedx_standin", "--port", port, "--empty"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert busy.returncode == 1
    assert (
        f"Cannot listen on 127.0.0.1:{port} (Address already in use): choose another --port."
        in busy.stderr
    )
