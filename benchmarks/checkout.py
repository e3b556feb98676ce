"""``make bench-checkout``: one checkout measured in process, then learners redeeming enrollment
codes through the API, measured.

First, in process (``benchmarks/_inprocess.py``): ``BENCH_INPROCESS`` learners check out one after
another through Django's real WSGI handler (DRF's test client) on PostgreSQL, half applying the
code then checking out, half checking out with the code in one request; for each way it prints
the median wall time of one checkout (and this process's CPU time in it), its SQL statements
(COMMIT and savepoints included) per request, the time spent in them, and how long the contract
row lock was held (and its COMMIT's share).

Then over HTTP: the app is served by gunicorn on loopback against PostgreSQL. 1,000 other learners
(created in bulk with a fast password hasher, each with a session, a CSRF token and the
contract's product in the basket, all made before timing) each redeem one of the contract's
one-time codes: ``POST /api/v0/checkout/`` with ``{"code": …}`` (or, with
``BENCH_TWO_REQUESTS=1``, ``POST /api/v0/basket/code/`` first), 20 clients at a time, each on its
own keep-alive connection. The same clients then hit ``GET /api/v0/me/`` (a trivial
authenticated endpoint) to show the machine's ceiling, and the ratio of the two rates is printed.
Afterwards it checks that redemptions = enrollments = memberships = fulfilled orders = learners,
and that no code was used twice. The load average at start is printed: figures taken on a busy
machine (load average 1 or more) are pessimistic.

Prints checkouts per second, p50/p95 latency and errors for both. Exit 0 when every check passes
(throughput below the target is reported, not failed: it depends on the machine), 3 when a check
found anomalies, 2 for a bad setting. Settings (environment):

- ``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/b2b_bench``): the database
  is dropped and created afresh; it is dropped again at the end unless ``BENCH_KEEP_DB=1``.
- ``BENCH_PORT`` (8040), ``BENCH_LEARNERS`` (1000), ``BENCH_CLIENTS`` (20),
  ``BENCH_WORKERS`` (4) and ``BENCH_THREADS`` (4): gunicorn's gthread workers and threads.
- ``DATABASE_SERVER_SIDE_BINDING`` (the app's setting, README "Settings"; default here ``True``,
  as ``docker-compose.yml`` deploys it: straight to PostgreSQL, statements prepared) applies to
  both steps; ``False`` measures without it.
- ``BENCH_INPROCESS`` (100): the learners checked out in process (the first 3 of each way warm
  up and are not counted); ``BENCH_SQL=1`` prints the statements of the last one, with times.
- ``BENCH_TWO_REQUESTS=1``: over HTTP, apply the code then check out (two requests).
- ``BENCH_BROKER_URL`` (default ``redis://127.0.0.1:6379/15``): both steps queue their tasks
  (each receipt's mail) to this Celery broker, as deployed, instead of running them in the
  request; no worker reads them (a deployment's workers send mail on their own cores), and the
  queue is emptied before and after, so give it a database of its own. Set it empty
  (``BENCH_BROKER_URL=``) to run them in the request, as the embedded default does (Celery
  eager): each checkout then also sends its receipt (three more statements and the mail
  backend's work) before it answers.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import queue
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import _bench  # noqa: E402
from benchmarks._bench import django_migrated, fresh_database  # noqa: E402

TARGET = 100.0  # checkouts per second, on the 2-core reference machine
CEILING_TARGET = 0.15  # checkouts per second / GET /api/v0/me/ per second, in the same run
LOCK_TARGET_MS = 2.5  # the contract row lock's median hold time, in process


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    if not raw.isdigit() or int(raw) < 1:
        sys.stderr.write(f"{name}={raw!r}: give a whole number of at least 1.\n")
        raise SystemExit(2)
    return int(raw)


DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/b2b_bench")
PORT = _env_int("BENCH_PORT", 8040)
LEARNERS = _env_int("BENCH_LEARNERS", 1000)
CLIENTS = _env_int("BENCH_CLIENTS", 20)
WORKERS = _env_int("BENCH_WORKERS", 4)
THREADS = _env_int("BENCH_THREADS", 4)
INPROCESS = _env_int("BENCH_INPROCESS", 100)
KEEP_DB = os.environ.get("BENCH_KEEP_DB") == "1"
TWO_REQUESTS = os.environ.get("BENCH_TWO_REQUESTS") == "1"
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/15")
TOTAL = LEARNERS + INPROCESS  # the in-process step's learners come first, then the HTTP run's


def say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


# -- the database ---------------------------------------------------------------------------------


def _with_conn_age(url: str) -> str:
    """The app keeps its connections (``conn_max_age``), as a production deployment does."""
    parts = urlsplit(url)
    if "conn_max_age" in parts.query:
        return url
    query = f"{parts.query}&conn_max_age=600" if parts.query else "conn_max_age=600"
    return urlunsplit(parts._replace(query=query))


def recreate_database() -> None:
    parts = urlsplit(DATABASE_URL)
    if not parts.scheme.startswith("postgres") or not parts.path.lstrip("/"):
        say(f"BENCH_DATABASE_URL={DATABASE_URL!r} must be a postgres:// URL with a database name.")
        raise SystemExit(2)
    fresh_database(DATABASE_URL)


def drop_database() -> None:
    _bench.drop_database(DATABASE_URL)


@dataclass
class Fixture:
    product_id: int
    contract_id: int
    learners: list[tuple[str, str, str]]  # (session key, CSRF token, code), one per learner


def prepare() -> Fixture:
    """Migrate, make the contract and its codes, the learners, their sessions and baskets."""
    django_migrated()
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from b2b.services.contracts import contract_create
    from b2b.services.courseware import courseware_add
    from courses.models import Course, CourseRun
    from ecommerce.models import Basket, BasketItem, Discount, Product

    course = Course.objects.create(readable_id="course-v1:BenchX+B101x", title="Benchmarking")
    CourseRun.objects.create(
        course=course,
        courseware_id="course-v1:BenchX+B101x+SOURCE",
        run_tag="SOURCE",
        title="Benchmarking",
        is_source_run=True,
        is_self_paced=True,
    )
    contract = contract_create(
        organization="Bench University",
        name="Bench contract",
        integration_type="non-sso",
        create_organization=True,
        org_key="BENCH",
        max_learners=TOTAL,
    ).contract
    courseware_add(contract.pk, course.readable_id)  # Celery eager: the codes exist on return
    product = Product.objects.get(course_run__b2b_contract=contract, is_active=True)
    codes = list(
        Discount.objects.filter(product_links__product=product)
        .order_by("pk")
        .values_list("discount_code", flat=True)
    )
    if len(codes) != TOTAL:
        say(f"Expected {TOTAL} codes, the contract has {len(codes)}.")
        raise SystemExit(3)

    user_model = get_user_model()
    hashed = user_model(username="x")  # one MD5 hash shared by every learner
    hashed.set_password("bench-password")
    users = user_model.objects.bulk_create(
        [
            user_model(
                username=f"bench{i:05d}",
                email=f"bench{i:05d}@example.edu",
                password=hashed.password,
            )
            for i in range(TOTAL)
        ],
        batch_size=1000,
    )
    baskets = Basket.objects.bulk_create([Basket(user=u) for u in users], batch_size=1000)
    BasketItem.objects.bulk_create(
        [BasketItem(basket=b, product=product) for b in baskets], batch_size=1000
    )
    store = SessionStore()
    expires = timezone.now() + dt.timedelta(hours=2)
    sessions, learners = [], []
    for user, code in zip(users, codes, strict=True):
        key = secrets.token_hex(16)
        data = {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": "allauth.account.auth_backends.AuthenticationBackend",
            "_auth_user_hash": user.get_session_auth_hash(),
        }
        sessions.append(
            Session(session_key=key, session_data=store.encode(data), expire_date=expires)
        )
        learners.append((key, secrets.token_hex(16), code.upper()))
    Session.objects.bulk_create(sessions, batch_size=1000)
    from django.db import connections

    connections.close_all()
    return Fixture(product.pk, contract.pk, learners)


# -- the server -------------------------------------------------------------------------------


#: The deployment's settings, for the server and the in-process step alike.
SERVER_ENV = {
    "DEBUG": "False",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SITE_BASE_URL": f"http://127.0.0.1:{PORT}",
    "LOG_LEVEL": "WARNING",
    "DATABASE_SERVER_SIDE_BINDING": os.environ.get("DATABASE_SERVER_SIDE_BINDING", "True"),
    # Every client is on loopback: one address for every learner, so no per-address limit
    # (each learner applies one code: the per-learner limit stays as deployed).
    "CODE_ATTEMPTS_PER_ADDRESS": "",
}


def start_server(database_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **SERVER_ENV,
        "DATABASE_URL": database_url,
        "SECRET_KEY": os.environ["SECRET_KEY"],  # the sessions were signed with it
        # No collectstatic here: WhiteNoise's warning about the missing directory is noise.
        "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
    }
    env.pop("CELERY_BROKER_URL", None)
    if BROKER_URL:  # tasks (the receipt's mail) queued as deployed, not run in the request
        env["CELERY_BROKER_URL"] = BROKER_URL
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "main.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--worker-class",
            "gthread",
            "--workers",
            str(WORKERS),
            "--threads",
            str(THREADS),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            say("gunicorn exited at start: see its output above.")
            raise SystemExit(3)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/login/")  # answers anyone: no "Forbidden" in the log
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.3)
    stop_server(server)
    say(f"gunicorn did not answer on 127.0.0.1:{PORT} within 60 s.")
    raise SystemExit(3)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# -- the clients ------------------------------------------------------------------------------


@dataclass
class Run:
    """Latencies (seconds) of the successful units of work, the failures, the wall time."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, label: str, unit: str) -> str:
        done = len(self.latencies)
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000 if ordered else 0.0
        p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000 if ordered else 0.0
        rate = done / self.seconds if self.seconds else 0.0
        return (
            f"{label}: {done} {unit} in {self.seconds:.2f} s = {rate:.1f} {unit}/s; "
            f"latency p50 {p50:.1f} ms, p95 {p95:.1f} ms; errors {len(self.failures)}"
        )

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def _client(jobs: queue.Queue, run: Run, work) -> None:  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    while True:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            break
        started = time.perf_counter()
        try:
            problem = work(conn, job)
        except (OSError, http.client.HTTPException) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        elapsed = time.perf_counter() - started
        with run.lock:
            if problem:
                run.failures.append(problem)
            else:
                run.latencies.append(elapsed)
    conn.close()


def _drive(jobs: list, work) -> Run:  # type: ignore[no-untyped-def]
    pending: queue.Queue = queue.Queue()
    for job in jobs:
        pending.put(job)
    run = Run()
    threads = [threading.Thread(target=_client, args=(pending, run, work)) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - started
    return run


def _headers(session: str, csrf: str) -> dict[str, str]:
    return {
        "Cookie": f"sessionid={session}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
        "Content-Type": "application/json",
        "Host": "127.0.0.1",
    }


def _call(conn, method: str, path: str, headers, body=None) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def checkout(conn, job) -> str | None:  # type: ignore[no-untyped-def]
    session, csrf, code = job
    headers = _headers(session, csrf)
    if not TWO_REQUESTS:  # the code travels with the checkout
        status, body = _call(
            conn, "POST", "/api/v0/checkout/", headers, json.dumps({"code": f" {code} "})
        )
        if status != 201 or json.loads(body).get("status") != "fulfilled":
            return f"checkout {status}: {body[:200]!r}"
        return None
    status, body = _call(
        conn, "POST", "/api/v0/basket/code/", headers, json.dumps({"code": f" {code} "})
    )
    if status != 200:
        return f"apply {status}: {body[:200]!r}"
    status, body = _call(conn, "POST", "/api/v0/checkout/", headers)
    if status != 201 or json.loads(body).get("status") != "fulfilled":
        return f"checkout {status}: {body[:200]!r}"
    return None


def me(conn, job) -> str | None:  # type: ignore[no-untyped-def]
    session, csrf, _ = job
    status, body = _call(conn, "GET", "/api/v0/me/", _headers(session, csrf))
    return None if status == 200 else f"me {status}: {body[:200]!r}"


# -- checks -----------------------------------------------------------------------------------


def verify(fixture: Fixture) -> list[str]:
    """What must hold after the run; returns the anomalies found (none: all good)."""
    from django.db.models import Count

    from b2b.models import ContractMembership
    from courses.models import CourseRunEnrollment
    from ecommerce.models import DiscountRedemption, Order

    redemptions = DiscountRedemption.objects.count()
    enrollments = CourseRunEnrollment.objects.filter(run__b2b_contract=fixture.contract_id).count()
    memberships = ContractMembership.objects.filter(contract=fixture.contract_id).count()
    fulfilled = Order.objects.filter(state=Order.State.FULFILLED).count()
    other_orders = Order.objects.exclude(state=Order.State.FULFILLED).count()
    twice = (
        DiscountRedemption.objects.values("redeemed_discount")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    distinct_codes = DiscountRedemption.objects.values("redeemed_discount").distinct().count()
    say(
        f"after: redemptions {redemptions}, enrollments {enrollments}, memberships {memberships}, "
        f"fulfilled orders {fulfilled}, other orders {other_orders}, codes used twice {twice}"
    )
    anomalies = []
    for name, value in (
        ("redemptions", redemptions),
        ("enrollments", enrollments),
        ("memberships", memberships),
        ("fulfilled orders", fulfilled),
        ("distinct redeemed codes", distinct_codes),
    ):
        if value != TOTAL:
            anomalies.append(f"{name} = {value}, expected {TOTAL}")
    if twice:
        anomalies.append(f"{twice} codes were redeemed more than once")
    if other_orders:
        anomalies.append(f"{other_orders} orders are not fulfilled")
    return anomalies


def broker_purge() -> int:
    """Empty the broker's task queue (``BROKER_URL``): the number of tasks it held. Exits 2 with
    how to fix it when the broker cannot be reached."""
    from django.conf import settings
    from kombu import Connection

    try:
        with Connection(BROKER_URL, connect_timeout=3) as broker:
            broker.ensure_connection(max_retries=1)
            return int(broker.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE) or 0)
    except Exception as exc:  # kombu raises its transport's own errors
        say(
            f"BENCH_BROKER_URL={BROKER_URL}: cannot reach the broker ({exc}). Start Redis, or set "
            "BENCH_BROKER_URL= to run the tasks in the request."
        )
        raise SystemExit(2) from None


def inprocess_queue_tasks() -> None:
    """This process, set up without a broker for the fixture (the codes are generated in
    process), queues its tasks to ``BROKER_URL`` from now on, as the server does."""
    from django.conf import settings

    from main.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    app.conf.broker_url = BROKER_URL


def main() -> int:
    load = os.getloadavg()
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    os.environ["DJANGO_SETTINGS_MODULE"] = "main.settings"
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)  # shared with the server
    os.environ.pop("CELERY_BROKER_URL", None)
    # This process serves the in-process step as the server is deployed.
    os.environ.update(SERVER_ENV)
    if BROKER_URL:
        broker_purge()  # reachable (exit 2 otherwise), and empty
    say(
        f"Preparing {DATABASE_URL} ({TOTAL} learners, one contract capped at {TOTAL}: "
        f"{INPROCESS} in process, {LEARNERS} over HTTP)..."
    )
    recreate_database()
    started = time.perf_counter()
    fixture = prepare()
    say(f"prepared in {time.perf_counter() - started:.1f} s; checking out {INPROCESS} in process")
    from benchmarks._inprocess import inprocess_report, inprocess_run

    if BROKER_URL:
        inprocess_queue_tasks()
    half = INPROCESS // 2
    try:
        samples = inprocess_run(fixture.learners[:half])
        one_request = inprocess_run(fixture.learners[half:INPROCESS], one_request=True)
    except RuntimeError as exc:
        say(f"In-process checkout failed: {exc}")
        return 3
    from django.db import connections

    connections.close_all()
    say(f"starting gunicorn on 127.0.0.1:{PORT} ({WORKERS} workers x {THREADS} threads)")
    over_http = fixture.learners[INPROCESS:]
    server = start_server(_with_conn_age(DATABASE_URL))
    try:
        _drive(over_http[: CLIENTS * 2], me)  # warm the workers and their connections
        checkouts = _drive(over_http, checkout)
        ceiling = _drive(over_http * 2, me)
    finally:
        stop_server(server)
    purged = broker_purge() if BROKER_URL else 0  # no worker reads that queue
    connections.close_all()
    anomalies = verify(fixture) + [f"request failed: {f}" for f in checkouts.failures[:10]]
    anomalies += [f"ceiling request failed: {f}" for f in ceiling.failures[:10]]
    if BROKER_URL and purged != TOTAL:  # one receipt queued per checkout, nothing else
        anomalies.append(f"{purged} tasks were queued for {TOTAL} checkouts (one receipt each)")
    quiet = "quiet" if load[0] < 1 else "NOT quiet: figures are pessimistic"
    tasks = f"queued to {BROKER_URL} ({purged} receipts)" if BROKER_URL else "run in the request"
    print(
        f"bench-checkout: load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"({quiet}); PostgreSQL, server-side binding "
        f"{SERVER_ENV['DATABASE_SERVER_SIDE_BINDING']}; "
        f"tasks {tasks}; "
        f"gunicorn {WORKERS}x{THREADS} gthread"
    )
    print(inprocess_report("in process, apply code then checkout", samples[3:]))
    print(inprocess_report("in process, checkout with its code", one_request[3:]))
    lock = statistics.median(s.lock_ms for s in one_request[3:])
    print(
        f"  contract lock target <= {LOCK_TARGET_MS} ms: "
        f"{'met' if lock <= LOCK_TARGET_MS else 'NOT met'}"
    )
    print(
        f"over HTTP, {LEARNERS} learners, {CLIENTS} concurrent clients "
        f"(one keep-alive connection each):"
    )
    form = "apply code + checkout" if TWO_REQUESTS else "checkout with its code"
    print("  " + checkouts.report(f"checkout ({form})", "checkouts"))
    print("  " + ceiling.report("ceiling (GET /api/v0/me/)", "requests"))
    ratio = checkouts.rate / ceiling.rate if ceiling.rate else 0.0
    print(
        f"  checkouts/s over the ceiling: {ratio:.3f} (target >= {CEILING_TARGET}: "
        f"{'met' if ratio >= CEILING_TARGET else 'NOT met'})"
    )
    verdict = "met" if checkouts.rate >= TARGET else "NOT met"
    print(f"  target >= {TARGET:.0f} checkouts/s: {verdict}")
    if anomalies:
        print("ANOMALIES:")
        for anomaly in anomalies:
            print(f"  - {anomaly}")
    else:
        print(
            f"checks: redemptions = enrollments = memberships = {TOTAL}, no code used "
            "twice, no errors"
        )
    if not KEEP_DB:
        drop_database()
    return 3 if anomalies else 0


if __name__ == "__main__":
    raise SystemExit(main())
