"""How the courses service account talks to Open edX: the token, the retries, the errors (SPEC §8).

Authentication: the OAuth2 client-credentials grant at
``{OPENEDX_API_BASE_URL}/oauth2/access_token`` with ``client_id``, ``client_secret`` in the body
and ``token_type=jwt``; the token is sent as
``Authorization: JWT <token>`` and kept until a minute before its ``expires_in`` runs out. The
token plumbing is authlib's ``OAuth2Session`` (fetching, caching with a 60-second leeway,
re-fetching when it expires); this module adds the ``JWT`` token type, and on a 401 fetches one new
token and sends the request once more.

Every request has a timeout (``OPENEDX_CONNECT_TIMEOUT``, ``OPENEDX_READ_TIMEOUT``). Timeouts,
connection errors and 5xx answers are retried with exponential backoff and jitter
(``OPENEDX_RETRY_*``, tenacity), a bounded number of times, then raise ``EdxUnavailable``. Any
other answer is returned for the caller to read (``openedx.client`` turns a 4xx into
``EdxRefused``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Auth, OAuth2Session
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from openedx.config import EdxConfig
from openedx.exceptions import EdxAuthFailed, EdxRefused, EdxUnavailable

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth2/access_token"
# A token is taken as expired this many seconds before edX says it expires (SPEC §8 "shortly").
TOKEN_LEEWAY_SECONDS = 60


def _add_jwt_header(
    token: str, uri: str, headers: dict[str, str], body: Any, placement: str = "header"
) -> tuple[str, dict[str, str], Any]:
    headers = dict(headers or {})
    headers["Authorization"] = f"JWT {token}"
    return uri, headers, body


class _JwtTokenAuth(OAuth2Auth):
    """authlib's token auth, knowing edX's ``JWT`` token type besides ``Bearer``."""

    SIGN_METHODS = {**OAuth2Auth.SIGN_METHODS, "jwt": _add_jwt_header}


class _ServiceAccountSession(OAuth2Session):
    """A client-credentials session that always asks edX for a JWT (``token_type=jwt``),
    including when authlib re-fetches an expired token by itself."""

    token_auth_class = _JwtTokenAuth

    def fetch_token(self, url: str | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("token_type", "jwt")
        return super().fetch_token(url, **kwargs)


class _Transient(Exception):
    """One attempt that may succeed when tried again (a timeout, no connection, a 5xx)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def error_summary(response: requests.Response) -> str:
    """The readable part of an edX error answer: DRF's ``non_field_errors`` / ``detail`` /
    field errors, the enrollment API's ``message``, OAuth2's ``error`` and ``error_description``;
    else the start of the body, else the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        return text[:300] or response.reason or ""
    parts: list[str] = []

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                generic = key in ("non_field_errors", "detail", "message", "error_description")
                walk(item, prefix if generic else f"{prefix}{key}: ")
        elif isinstance(value, list):
            for item in value:
                walk(item, prefix)
        elif value is not None:
            parts.append(f"{prefix}{value}")

    walk(body, "")
    return "; ".join(parts)[:500] or response.reason or ""


class ServiceAccountTransport:
    """Requests as the service account: one token shared by every thread, retries with backoff,
    one new token after a 401. ``sleep`` waits between retries.

    ``request`` raises ``EdxUnavailable`` (retries ran out), ``EdxAuthFailed`` (credentials or
    rights refused) or ``EdxRefused`` (a URL that cannot be used); it returns any other answer.
    """

    def __init__(self, config: EdxConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._sleep = sleep
        self._lock = threading.Lock()
        self._session = _ServiceAccountSession(
            client_id=config.client_id,
            client_secret=config.client_secret,
            token_endpoint_auth_method="client_secret_post",
            token_endpoint=f"{config.lms_url}{TOKEN_PATH}",
            grant_type="client_credentials",
            leeway=TOKEN_LEEWAY_SECONDS,
            default_timeout=(config.connect_timeout, config.read_timeout),
            # No token yet is an expired one: authlib fetches the first one on the first request.
            token={"access_token": "", "token_type": "JWT", "expires_at": 0},
        )

    def request(
        self, what: str, method: str, url: str, *, json: dict[str, Any] | None = None
    ) -> requests.Response:
        """Send with retries; return the answer when it is not a 5xx (the caller reads 4xx)."""
        config = self.config
        retrying = Retrying(
            stop=stop_after_attempt(config.attempts),
            wait=wait_exponential_jitter(
                multiplier=config.backoff, max=config.backoff_max, jitter=config.backoff
            ),
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            before_sleep=lambda state: _log_retry(what, state),
            reraise=True,
        )
        try:
            return retrying(self._send_once, what, method, url, json)
        except _Transient as exc:
            raise EdxUnavailable(
                f"{what}: {exc.message}; gave up after {config.attempts} attempts",
                status=exc.status,
                attempts=config.attempts,
            ) from exc

    def _send_once(
        self, what: str, method: str, url: str, json: dict[str, Any] | None
    ) -> requests.Response:
        """One attempt: make sure there is a token, send; on a 401 fetch one new token and send
        once more. Raises ``_Transient`` for what a retry may cure."""
        response = self._send(what, method, url, json)
        if response.status_code == 401:
            used = response.request.headers.get("Authorization", "").removeprefix("JWT ")
            self._refresh_after_401(what, used)
            response = self._send(what, method, url, json)
            if response.status_code == 401:
                raise EdxAuthFailed(
                    f"{what} refused (401) even with a new token: {error_summary(response)}. "
                    "Check that the service account of OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID "
                    "is active and staff in Open edX.",
                    status=401,
                )
        if response.status_code >= 500:
            raise _Transient(
                f"{response.status_code} {error_summary(response)}".strip(), response.status_code
            )
        return response

    def _send(
        self, what: str, method: str, url: str, json: dict[str, Any] | None
    ) -> requests.Response:
        try:
            # authlib fetches a token here when it holds none that is out of its last minute.
            return self._session.request(method, url, json=json)
        except requests.Timeout as exc:
            raise _Transient(f"no answer within {self._timeout_text(exc)}") from exc
        except requests.ConnectionError as exc:
            raise _Transient(f"cannot connect to {_origin(url)}: {_reason(exc)}") from exc
        except (OAuthError, requests.HTTPError) as exc:
            raise self._token_failure(exc) from exc
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            raise EdxRefused(
                f"{what}: {url} is not a usable URL ({exc}): check the OPENEDX_*_BASE_URL settings."
            ) from exc
        except requests.RequestException as exc:
            raise _Transient(f"the answer broke off: {_reason(exc)}") from exc
        except ValueError as exc:
            raise self._token_failure(exc) from exc

    def _refresh_after_401(self, what: str, used_token: str) -> None:
        """One new token, unless another thread already replaced the one that was refused."""
        with self._lock:
            current = (self._session.token or {}).get("access_token")
            if current and current != used_token:
                return
            log.info("%s: 401 with the cached token; fetching a new one", what)
            try:
                self._fetch_token()
            except requests.Timeout as exc:
                raise _Transient(f"no answer within {self._timeout_text(exc)}") from exc
            except requests.ConnectionError as exc:
                origin = _origin(self.config.lms_url)
                raise _Transient(f"cannot connect to {origin}: {_reason(exc)}") from exc
            except (OAuthError, requests.HTTPError, ValueError) as exc:
                raise self._token_failure(exc) from exc

    def _fetch_token(self) -> str:
        """POST the client-credentials grant (the caller holds the lock); returns the token."""
        token = self._session.fetch_token(
            f"{self.config.lms_url}{TOKEN_PATH}", grant_type="client_credentials"
        )
        log.info("Fetched an Open edX access token (expires in %s s)", token.get("expires_in"))
        return token["access_token"]

    def _token_failure(self, exc: Exception) -> Exception:
        """What a failed token request means: a 5xx may pass (``_Transient``); a refusal of
        the credentials, or an answer that is no token, will not (``EdxAuthFailed``)."""
        token_url = f"{self.config.lms_url}{TOKEN_PATH}"
        if isinstance(exc, OAuthError):
            return EdxAuthFailed(
                f"The Open edX token endpoint {token_url} refused the service account "
                f"({exc.error}: {exc.description or 'no description'}): check "
                "OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID and _SECRET."
            )
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            status = exc.response.status_code
            summary = error_summary(exc.response)
            if status >= 500:
                return _Transient(f"token endpoint answered {status} {summary}".strip(), status)
            return EdxAuthFailed(
                f"The Open edX token endpoint {token_url} answered {status}: {summary}",
                status=status,
            )
        return EdxAuthFailed(f"The Open edX token endpoint {token_url} answered: {exc}")

    def _timeout_text(self, exc: requests.Timeout) -> str:
        if isinstance(exc, requests.ConnectTimeout):
            return f"{self.config.connect_timeout:g} s (connecting)"
        return f"{self.config.read_timeout:g} s"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "Connection reset"):
        if marker in text:
            return marker.lower()
    return text[:200]


def _log_retry(what: str, state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0
    log.warning(
        "%s: attempt %d failed (%s); retrying in %.2f s",
        what,
        state.attempt_number,
        getattr(exc, "message", exc),
        wait,
    )
