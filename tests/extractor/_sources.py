"""A stand-in for config.SourceConnection with just what mysql.py and reader.py read."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr


@dataclass
class Source:
    host: str
    port: int
    username: str
    password: SecretStr
    database: str | None = None
    connect_timeout: int = 5
    read_timeout: int = 60
