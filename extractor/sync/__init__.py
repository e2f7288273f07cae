"""Extraction: a pipeline's tables read from MySQL into the lake, watermark by watermark.

:mod:`.orchestrator` runs tables in dependency levels; :mod:`.table_run` runs one table under its lock,
using :mod:`.resolve` (configuration against MySQL), :mod:`.bounds` (upper bounds), :mod:`.paginator`
(pages, key ranges, memory budget), :mod:`.checkpoint` (pure watermark transitions), :mod:`.recovery`
(crashed runs), :mod:`.deletes` and :mod:`.reconcile` (delete detection), :mod:`.schema_run` (schema
versions), :mod:`.checks` (data checks) and :mod:`.dependencies` (dependencies other processes extract).
:mod:`.report` holds what a run reports.
"""

from extractor.sync.orchestrator import page_budget, sync_pipeline
from extractor.sync.report import RunReport, SyncOptions, TableResult
from extractor.sync.resolve import ResolvedTable, check_watermark_fits, resolve_table

__all__ = ["ResolvedTable", "RunReport", "SyncOptions", "TableResult", "check_watermark_fits", "page_budget",
           "resolve_table", "sync_pipeline"]
