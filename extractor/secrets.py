"""Secrets: reading a configured password and keeping secrets out of text shown to a user (a leaf module)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Words that mark a configuration key as secret: its value is never echoed in an error.
SECRET_WORDS = ("password", "passphrase", "secret", "token")


def secret_value(source: Any) -> str:
    """The plain password of a source (``source.password``: a pydantic SecretStr, a str or None)."""
    password = source.password
    if password is None:
        return ""
    return password.get_secret_value() if hasattr(password, "get_secret_value") else str(password)


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def is_secret_key(path: Sequence[object]) -> bool:
    """Whether a configuration key path (``('sources', 'x', 'password')``) names a secret."""
    return any(word in str(part).lower() for part in path for word in SECRET_WORDS)
