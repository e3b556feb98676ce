"""The stand-in's HTTP server: one ``ThreadingHTTPServer`` playing the LMS at its root and Studio
under ``/studio``. It routes each request to its protocol module (``oauth``, ``lms``, ``studio``,
``control``), applies the faults the control API asked for, logs the request and answers JSON.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from joserfc.jwk import OctKey

from openedx.standin.control import CONTROL_PREFIX, control_answer
from openedx.standin.lms import ENROLLMENT_PATH, enrollment_create
from openedx.standin.oauth import TOKEN_PATH, bearer_username, token_issue
from openedx.standin.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_SERVICE_USERNAME,
    Fault,
    Reply,
    StandinState,
)
from openedx.standin.studio import COURSE_RUNS_PATH, STUDIO_PREFIX, run_clone, run_get, run_update


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    # -- dispatch --------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _handle(self, method: str) -> None:
        standin = self.server.standin
        state = standin.state
        path = urlsplit(self.path).path
        body = self._read_body()
        if path.startswith(CONTROL_PREFIX):
            self._answer_control(method, path, body)
            return
        fault = self._take_fault(method, path)
        if state.latency:
            standin.stopping.wait(state.latency)
        if fault is not None and fault.mode == "timeout":
            self._record(method, path, body, None, "timeout")
            self._stall()
            return
        if fault is not None and fault.mode == "500":
            self._record(method, path, body, 500, "500")
            self._send(500, {"detail": "Internal Server Error (injected by the stand-in)."})
            return
        try:
            status, payload, headers = self._route(method, path, body)
        except Reply as reply:
            status, payload, headers = reply.status, reply.body, reply.headers
        if fault is not None:  # timeout-after: the work is done, the answer never comes
            self._record(method, path, body, None, "timeout-after")
            self._stall()
            return
        self._record(method, path, body, status, None)
        self._send(status, payload, headers)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        state = self.server.standin.state
        with state.lock:
            for fault in state.faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        state.faults.remove(fault)
                    return fault
        return None

    def _stall(self) -> None:
        self.server.standin.stopping.wait(self.server.standin.state.stall_seconds)
        self.close_connection = True

    def _record(
        self, method: str, path: str, body: bytes, status: int | None, fault: str | None
    ) -> None:
        """Log the request: what was sent (the JSON body, or the token form with the secret
        masked), the ``Authorization`` scheme, and the answer's status (None: no answer)."""
        state = self.server.standin.state
        sent: Any = None
        if path == TOKEN_PATH:
            sent = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            if "client_secret" in sent:
                sent["client_secret"] = "***"
        elif body:
            try:
                sent = json.loads(body)
            except ValueError:
                sent = body.decode("utf-8", "replace")
        scheme = self.headers.get("Authorization", "").partition(" ")[0] or None
        entry = {
            "method": method,
            "path": path,
            "status": status,
            "fault": fault,
            "auth": scheme,
            "body": sent,
        }
        with state.lock:
            state.log.append(entry)
        if self.server.standin.on_request:
            self.server.standin.on_request(entry)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    # -- the protocol ----------------------------------------------------------------------------

    def _route(self, method: str, path: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        standin = self.server.standin
        state = standin.state
        if path == TOKEN_PATH:
            self._allow(method, "POST")
            answer = token_issue(state, body, issuer=standin.url, key=standin.signing_key)
            return 200, answer, {"Cache-Control": "no-store"}
        # Like DRF: authentication first, then the method.
        if path.rstrip("/") == ENROLLMENT_PATH:
            user = self._authorize()
            self._allow(method, "POST")
            return 200, enrollment_create(state, user, self._json(body)), {}
        if path == f"{COURSE_RUNS_PATH}clone/":
            self._authorize()
            self._allow(method, "POST")
            return 201, run_clone(state, self._json(body)), {}
        if (
            path.startswith(COURSE_RUNS_PATH)
            and path.endswith("/")
            and len(path) > len(COURSE_RUNS_PATH)
        ):
            key = unquote(path[len(COURSE_RUNS_PATH) : -1])
            self._authorize()
            self._allow(method, "GET", "PATCH", "PUT")
            if method == "GET":
                return 200, run_get(state, key), {}
            return 200, run_update(state, key, self._json(body), partial=method == "PATCH"), {}
        raise Reply(404, {"detail": "Not found."})

    def _authorize(self) -> str:
        standin = self.server.standin
        return bearer_username(
            standin.state, self.headers.get("Authorization", ""), key=standin.signing_key
        )

    def _allow(self, method: str, *allowed: str) -> None:
        if method not in allowed:
            raise Reply(
                405, {"detail": f'Method "{method}" not allowed.'}, {"Allow": ", ".join(allowed)}
            )

    def _json(self, body: bytes) -> Any:
        try:
            return json.loads(body or b"{}")
        except ValueError as exc:
            raise Reply(400, {"detail": f"JSON parse error - {exc}"}) from None

    # -- control ---------------------------------------------------------------------------------

    def _answer_control(self, method: str, path: str, body: bytes) -> None:
        action = path[len(CONTROL_PREFIX) :].strip("/")
        try:
            data = self._json(body) if method == "POST" else {}
            status, payload = control_answer(self.server.standin.state, method, action, data)
        except Reply as reply:
            self._send(reply.status, reply.body, reply.headers)
            return
        self._send(status, payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: StandinServer


class StandinServer:
    """The stand-in: ``start()`` serves in a background thread, ``serve_forever()`` in this one.

    ``port=0`` takes a free port; ``url`` (the LMS) and ``studio_url`` say where it listens.
    ``seed`` maps run keys to ``add_run`` arguments (``catalog_seed()`` makes one from a catalog).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        service_username: str = DEFAULT_SERVICE_USERNAME,
        token_lifetime: int = 3600,
        seed: dict[str, dict[str, Any]] | None = None,
        on_request: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.state = StandinState(
            client_id,
            client_secret,
            service_username,
            token_lifetime=token_lifetime,
            seed=dict(seed or {}),
        )
        self.state.reset()
        self.signing_key = OctKey.import_key(secrets.token_bytes(32))
        self.on_request = on_request
        self.stopping = threading.Event()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.standin = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def studio_url(self) -> str:
        return f"{self.url}{STUDIO_PREFIX}"

    def start(self) -> StandinServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="openedx-standin", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
