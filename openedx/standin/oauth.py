"""The stand-in's LMS token endpoint and the check every other endpoint makes of its token.

``POST /oauth2/access_token`` (form: ``grant_type=client_credentials``, ``client_id``,
``client_secret``, ``token_type=jwt``) → 200 ``{"access_token": <JWT>, "expires_in": N,
"token_type": "JWT", "scope": "read write"}``; wrong credentials → 401 ``invalid_client``;
another grant → 400 ``unsupported_grant_type``. A token is an HS256 JWT signed with the
stand-in's key; ``bearer_username`` accepts ``Authorization: JWT <token>`` with a token it issued
that has not expired (nor been expired through the control API), else answers 401 as
edx-drf-extensions does.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OctKey

from openedx.standin.state import Reply, StandinState

TOKEN_PATH = "/oauth2/access_token"


def token_issue(state: StandinState, body: bytes, *, issuer: str, key: OctKey) -> dict[str, Any]:
    """Answer a client-credentials grant (the form in ``body``) with a new JWT, or refuse it."""
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
    if form.get("grant_type") != "client_credentials":
        raise Reply(400, {"error": "unsupported_grant_type"})
    if (form.get("client_id"), form.get("client_secret")) != (
        state.client_id,
        state.client_secret,
    ):
        raise Reply(401, {"error": "invalid_client"})
    if form.get("token_type", "").lower() != "jwt":
        raise Reply(
            400,
            {
                "error": "invalid_request",
                "error_description": "This stand-in issues JWTs only: send token_type=jwt.",
            },
        )
    now = int(time.time())
    with state.lock:
        lifetime = state.token_lifetime
        jti = uuid.uuid4().hex
        state.tokens_issued += 1
        state.issued.add(jti)
    claims = {
        "iss": issuer,
        "aud": "openedx",
        "preferred_username": state.service_username,
        "administrator": True,
        "scopes": ["read", "write"],
        "iat": now,
        "exp": now + lifetime,
        "jti": jti,
    }
    token = jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, key)
    return {
        "access_token": token,
        "expires_in": lifetime,
        "token_type": "JWT",
        "scope": "read write",
    }


def bearer_username(state: StandinState, authorization: str, *, key: OctKey) -> str:
    """The username of a valid ``JWT`` bearer; else a 401 like edx-drf-extensions'."""
    challenge = {"WWW-Authenticate": 'JWT realm="api"'}
    scheme, _, token = authorization.partition(" ")
    if scheme != "JWT" or not token:
        raise Reply(401, {"detail": "Authentication credentials were not provided."}, challenge)
    try:
        decoded = jwt.decode(token.strip(), key)
        jwt.JWTClaimsRegistry(exp={"essential": True}, leeway=0).validate(decoded.claims)
    except ExpiredTokenError:
        raise Reply(401, {"detail": "Signature has expired."}, challenge) from None
    except (JoseError, ValueError):
        raise Reply(401, {"detail": "Error decoding token."}, challenge) from None
    with state.lock:
        if decoded.claims.get("jti") in state.revoked:
            raise Reply(401, {"detail": "Signature has expired."}, challenge)
        if state.expire_countdown is not None:
            state.expire_countdown -= 1
            if state.expire_countdown <= 0:
                state.revoked |= state.issued
                state.expire_countdown = None
    return str(decoded.claims["preferred_username"])
