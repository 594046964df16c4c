"""Credentials the tests present, whatever the service's `auth` answer is."""

import time
from typing import Any

import jwt

from tests.samples import AUTH

JWT_SECRET = "tests-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
SUBJECTS = ("alice", "bob", "carol")
API_TOKENS = {subject: f"token-of-{subject}-0123456789abcdef" for subject in SUBJECTS}


def auth_settings() -> dict[str, str]:
    """The environment the service needs to accept the tests' credentials."""
    if AUTH == "jwt":
        return {"JWT_SECRET": JWT_SECRET}
    if AUTH == "token":
        return {"API_TOKENS": ",".join(f"{token}:{sub}" for sub, token in API_TOKENS.items())}
    return {}


def jwt_token(subject: str, lifetime: float = 3600, secret: str = JWT_SECRET, **claims: Any) -> str:
    """An HS256 token for `subject`; `claims` add to or replace the standard ones."""
    payload: dict[str, Any] = {"sub": subject, "exp": int(time.time() + lifetime)}
    return jwt.encode(payload | claims, secret, algorithm="HS256")


def token_for(subject: str = "alice") -> str | None:
    """A valid token for `subject`, or None when the service has no authentication."""
    if AUTH == "jwt":
        return jwt_token(subject)
    if AUTH == "token":
        return API_TOKENS[subject]
    return None


def auth_headers(subject: str = "alice") -> dict[str, str]:
    token = token_for(subject)
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def expected_subject(subject: str = "alice") -> str:
    """The subject the service records for a caller presenting `subject`'s credentials."""
    return "anonymous" if AUTH == "none" else subject
