"""``extractor verify``: does the lake (and the warehouse's staging) hold exactly what MySQL holds.

Per table, three streams in key order are merged — MySQL's current rows, the lake's current state
(the latest version per key over every data file, tombstones removing keys; the same rule as the
``current_rows`` dbt macro) and, when it exists, the warehouse model ``stg_<pipeline>__<table>`` — and each
row is reduced to a 64-bit hash of one canonical text rendering computed in Python for all three sides,
so DECIMAL, DATETIME(6), unsigned BIGINT (decimal(20,0) in the lake), NULLs and zero dates compare exactly
whatever driver produced them. Memory is bounded: rows are streamed (pymysql SSCursor, DuckDB fetchmany).

What "should match" means (the watermark decides):

- cursor tables (hybrid/timestamp): only rows whose cursor tuple is <= the watermark's position are due in
  the lake; a row changed after it is *in flight* (the next run takes it) and is not compared. During an
  initial snapshot, rows up to the snapshot's last key and below its upper bound are due.
- id tables: rows whose key is <= the last key.
- A table nothing was committed for (no watermark, or one without a position whose last run did not
  succeed) has its MySQL rows counted as *not extracted*: not due (the watermark claims none of them) and
  not in flight either (no run is about to take them after a position). If its runs failed, the table is
  not OK (the lake holds none of it); if it was never synced, that is a note. After a successful run that
  found nothing to take (an empty table), later rows are in flight as usual.
- full_sync tables: every row, at the time of the check. The table can change between the last run and
  this check (a race verify cannot close): re-run after a sync on a quiet source before trusting a diff.
- Hard deletes are invisible to cursor CDC: a key the lake still has but MySQL no longer has is counted as
  ``deleted_at_source`` and does not fail a cursor table (it fails a full_sync table, which must show it).
- The warehouse is compared with the lake on the columns staging keeps under the source's names (renamed
  columns are listed as skipped). Verify after ``dbt build``: a warehouse built before the last sync
  differs from the lake, and says so.
- After ``s3clean`` removed acknowledged files, the lake alone no longer holds every current row; verify
  then reports rows missing from the lake that the warehouse still has.
- A table that could not be checked (MySQL unreachable, the lake or its watermark unreadable) is an
  *error*, not a mismatch: nothing was compared, so the report says so and ``extractor verify`` exits with
  the error's own code (3 MySQL, 4 lake, …), like ``sync``.

The package: :mod:`.canonical` (values, hashes, key parts), :mod:`.sides` (the three key-ordered
streams), :mod:`.compare` (their merge), :mod:`.report` (the findings) and :mod:`.run` (per table and
pipeline). ``extractor verify`` is :mod:`extractor.cli.verify`.
"""

from extractor.verify.canonical import canonical, row_hash
from extractor.verify.report import VERIFY_MISMATCH_EXIT, TableVerification, VerifyReport
from extractor.verify.run import verify_pipeline, verify_table

__all__ = ["VERIFY_MISMATCH_EXIT", "TableVerification", "VerifyReport", "canonical", "row_hash", "verify_pipeline",
           "verify_table"]
