"""Where things live in the lake: a table's keys, run ids and batch ids."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from extractor.errors import LakeError

_SAFE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.$-]*$")


def new_run_id() -> str:
    """A sortable, unique run id: UTC time to the microsecond plus 6 random hex digits."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


def batch_id(run_id: str, seq: int) -> str:
    """The ``_batch_id`` of file ``seq`` of a run; sorts in write order."""
    return f"{run_id}-{seq:05d}"


def run_key(run_id: str) -> str:
    """Key of a run's report document."""
    return f"runs/{run_id}.json"


@dataclass(frozen=True)
class TableLayout:
    """Where one table's data, manifests, watermark and lock live in the lake."""

    source: str
    source_db: str
    target_schema: str
    table: str

    def __post_init__(self) -> None:
        for name in ("source", "source_db", "target_schema", "table"):
            value = getattr(self, name)
            if not _SAFE_PART.match(value) or ".." in value:
                raise LakeError(f"{name} {value!r} cannot be used in a lake key",
                                hint="use letters, digits, '_', '-', '.' or '$'")

    @classmethod
    def of(cls, pipeline: Any, table: Any) -> TableLayout:
        """The layout of a configured ``table`` of ``pipeline`` (``config.Pipeline``, ``config.TableConfig``).

        The one place that says which settings name a table's place in the lake.
        """
        return cls(pipeline.source, table.source_db, pipeline.target_schema, table.target)

    @property
    def display(self) -> str:
        """How people name the table: ``<target_schema>.<table>``."""
        return f"{self.target_schema}.{self.table}"

    @property
    def _path(self) -> str:
        return f"{self.source}/{self.source_db}/{self.target_schema}/{self.table}"

    @property
    def data_prefix(self) -> str:
        """Prefix (ending in ``/``) of every data file of the table."""
        return f"data/{self._path}/"

    @property
    def manifest_prefix(self) -> str:
        """Prefix (ending in ``/``) of the table's COPY manifests."""
        return f"manifests/{self._path}/"

    def data_key(self, dt: date, run_id: str, seq: int) -> str:
        """Key of data file ``seq`` of ``run_id``, partitioned by extraction date."""
        return f"{self.data_prefix}dt={dt:%Y-%m-%d}/{self.table}__{run_id}__{seq:05d}.parquet"

    def parse_data_key(self, key: str) -> tuple[str, int] | None:
        """``(run_id, seq)`` of a data key written by ``data_key``, else None."""
        if not key.startswith(self.data_prefix):
            return None
        name = key.rsplit("/", 1)[-1]
        head, suffix = f"{self.table}__", ".parquet"
        if not (name.startswith(head) and name.endswith(suffix)):
            return None
        run_id, _, seq = name[len(head):-len(suffix)].rpartition("__")
        if not run_id or not seq.isdigit():
            return None
        return run_id, int(seq)

    def manifest_key(self, run_id: str) -> str:
        """Key of the COPY manifest of ``run_id``."""
        return f"{self.manifest_prefix}{run_id}.manifest"

    @property
    def state_key(self) -> str:
        """Key of the watermark document."""
        return f"state/{self._path}.json"

    @property
    def lock_key(self) -> str:
        """Key of the single-writer lock."""
        return f"state/{self._path}.lock"

    @property
    def keys_key(self) -> str:
        """Key of the last full_sync key set (for delete detection)."""
        return f"state/{self._path}.keys.parquet"
