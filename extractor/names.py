"""Names the extractor gives (a leaf module): dbt model names per layer, and the lineage columns.

Every ``lnd_…``/``stg_…``/``hist_…`` name is built by :func:`model_name`; every lake file ends with the
:data:`LINEAGE_COLUMNS` (their Arrow types in ``types.LINEAGE_FIELDS``, Redshift's in
``redshift.LINEAGE_TYPES``).
"""

from __future__ import annotations

from typing import Literal

Layer = Literal["landing", "staging", "history"]
LAYERS: tuple[Layer, ...] = ("landing", "staging", "history")
#: The prefix of a generated model's name per layer.
LAYER_PREFIX: dict[Layer, str] = {"landing": "lnd", "staging": "stg", "history": "hist"}
#: Lineage columns appended to every lake file, in this order.
LINEAGE_COLUMNS = ("_extracted_at", "_batch_id", "_op")


def model_name(layer: Layer, pipeline: str, table: str) -> str:
    """The dbt model (and relation) of a pipeline's table in ``layer``, e.g. ``lnd_<pipeline>__<table>``."""
    return f"{LAYER_PREFIX[layer]}_{pipeline}__{table}"
