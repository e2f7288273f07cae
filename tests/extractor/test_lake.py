"""Lake storage on a local directory and on S3 (moto server): keys, atomic and conditional writes, errors."""

from __future__ import annotations

import errno
import functools
import os
import re
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from extractor.errors import LakeError, StateError
from extractor.lake import LocalStorage, S3Storage, Storage, TableLayout, new_run_id, open_lake, run_key

LAYOUT = TableLayout("shop", "shopdb", "sales", "orders")

_MOTO_LOCK = threading.Lock()


def make_atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serialise moto's object writes: moto checks If-Match/If-None-Match then writes, not atomically.

    Real S3 evaluates conditions atomically; this makes the in-process moto server do the same so that
    concurrency tests exercise our protocol rather than moto's race.
    """
    from moto.s3.responses import S3Response

    for name in ("put_object", "delete_object"):
        original = getattr(S3Response, name)

        @functools.wraps(original)
        def locked(self, *args, __original=original, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            with _MOTO_LOCK:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(S3Response, name, locked)


def make_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """A local lake directory or an S3 bucket/prefix, by ``request.param``; shared by lake test modules."""
    if request.param == "local":
        return open_lake(str(tmp_path / "lake"))
    bucket = request.getfixturevalue("s3_bucket")
    make_atomic_moto(request.getfixturevalue("monkeypatch"))
    return open_lake(f"s3://{bucket}/lake/root")


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """The same tests on a local lake directory and on an S3 bucket/prefix."""
    return make_storage(request, tmp_path)


def test_open_lake_accepts_relative_absolute_file_and_s3_urls(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert open_lake("./lake").url == str(tmp_path / "lake")
    assert open_lake(str(tmp_path / "x")).url == str(tmp_path / "x")
    assert open_lake(f"file://{tmp_path}/y").url == str(tmp_path / "y")
    s3 = open_lake("s3://bucket-a/some/prefix/")
    assert isinstance(s3, S3Storage) and s3.url == "s3://bucket-a/some/prefix"
    assert s3.uri("data/x.parquet") == "s3://bucket-a/some/prefix/data/x.parquet"
    with pytest.raises(LakeError):
        open_lake("gs://bucket/x")


def test_layout_keys_follow_the_architecture() -> None:
    run = "20261123T153000123456Z-ab12cd"
    assert LAYOUT.data_key(date(2026, 11, 23), run, 7) == (
        f"data/shop/shopdb/sales/orders/dt=2026-11-23/orders__{run}__00007.parquet")
    assert LAYOUT.manifest_key(run) == f"manifests/shop/shopdb/sales/orders/{run}.manifest"
    assert LAYOUT.state_key == "state/shop/shopdb/sales/orders.json"
    assert LAYOUT.lock_key == "state/shop/shopdb/sales/orders.lock"
    assert LAYOUT.keys_key == "state/shop/shopdb/sales/orders.keys.parquet"
    assert run_key(run) == f"runs/{run}.json"
    assert LAYOUT.parse_data_key(LAYOUT.data_key(date(2026, 1, 2), run, 12)) == (run, 12)
    assert LAYOUT.parse_data_key("data/shop/shopdb/sales/orders/dt=2026-01-02/other.parquet") is None
    with pytest.raises(LakeError):
        TableLayout("shop", "../etc", "sales", "orders")


def test_run_ids_are_unique_and_sort_by_time() -> None:
    ids = [new_run_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(re.fullmatch(r"\d{8}T\d{12}Z-[0-9a-f]{6}", i) for i in ids)
    assert [i.split("-")[0] for i in ids] == sorted(i.split("-")[0] for i in ids)


def test_put_get_round_trip_and_token_changes(storage: Storage) -> None:
    assert storage.get_bytes("state/a.json") is None
    token = storage.put_bytes("state/a.json", b"one")
    data, got = storage.get_bytes("state/a.json")
    assert data == b"one" and got == token
    token2 = storage.put_bytes("state/a.json", b"two")
    assert token2 != token and storage.get_bytes("state/a.json") == (b"two", token2)


def test_create_if_absent_refuses_an_existing_object(storage: Storage) -> None:
    storage.put_bytes("state/a.json", b"first", if_none_match=True)
    with pytest.raises(StateError, match="changed concurrently"):
        storage.put_bytes("state/a.json", b"second", if_none_match=True)
    assert storage.get_bytes("state/a.json")[0] == b"first"


def test_if_match_succeeds_on_current_token_and_fails_on_stale(storage: Storage) -> None:
    t1 = storage.put_bytes("state/a.json", b"v1", if_none_match=True)
    t2 = storage.put_bytes("state/a.json", b"v2", if_match=t1)
    with pytest.raises(StateError):
        storage.put_bytes("state/a.json", b"v3", if_match=t1)
    assert storage.get_bytes("state/a.json") == (b"v2", t2)
    with pytest.raises(StateError):
        storage.put_bytes("state/missing.json", b"x", if_match=t2)


def test_concurrent_conditional_updates_have_exactly_one_winner(storage: Storage) -> None:
    token = storage.put_bytes("state/race.json", b"0")
    winners: list[int] = []
    barrier = threading.Barrier(6)

    def update(i: int) -> None:
        barrier.wait()
        try:
            storage.put_bytes("state/race.json", f"v{i}".encode(), if_match=token)
            winners.append(i)
        except StateError:
            pass

    threads = [threading.Thread(target=update, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert storage.get_bytes("state/race.json")[0] == f"v{winners[0]}".encode()


def test_upload_file_publishes_whole_file_and_returns_size(storage: Storage, tmp_path: Path) -> None:
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(300_000))
    size = storage.upload_file(src, "data/x/f.bin")
    assert size == 300_000
    assert storage.get_bytes("data/x/f.bin")[0] == src.read_bytes()
    # no temp files are visible to listings
    assert [i.key for i in storage.list("data/")] == ["data/x/f.bin"]


def test_local_upload_leaves_no_temp_files(tmp_path: Path) -> None:
    lake = LocalStorage(tmp_path / "lake")
    src = tmp_path / "f.bin"
    src.write_bytes(b"abc")
    lake.upload_file(src, "data/f.bin")
    lake.put_bytes("state/s.json", b"{}", if_none_match=True)
    names = [p.name for p in (tmp_path / "lake").rglob("*") if p.is_file()]
    assert sorted(names) == ["f.bin", "s.json"]


def test_publish_file_publishes_and_removes_the_staged_file(storage: Storage, tmp_path: Path) -> None:
    staged = Path(tempfile.mkdtemp(dir=storage.scratch_dir() or tmp_path)) / "f.bin"
    staged.write_bytes(os.urandom(300_000))
    expected = staged.read_bytes()
    assert storage.publish_file(staged, "data/x/f.bin") == 300_000
    assert not staged.exists()
    assert storage.get_bytes("data/x/f.bin")[0] == expected
    assert [i.key for i in storage.list("")] == ["data/x/f.bin"]  # the scratch dir is not an object


def test_local_publish_renames_the_staged_file_instead_of_copying(tmp_path: Path) -> None:
    lake = LocalStorage(tmp_path / "lake")
    staged = Path(tempfile.mkdtemp(dir=lake.scratch_dir())) / "f.bin"
    staged.write_bytes(b"abc")
    inode = staged.stat().st_ino
    lake.publish_file(staged, "data/f.bin")
    assert (tmp_path / "lake" / "data" / "f.bin").stat().st_ino == inode


def test_local_scratch_dir_drops_what_a_killed_writer_left_a_day_ago(tmp_path: Path) -> None:
    lake = LocalStorage(tmp_path / "lake")
    left = Path(tempfile.mkdtemp(dir=lake.scratch_dir()))
    (left / "b.parquet").write_bytes(b"half a file")
    live = Path(tempfile.mkdtemp(dir=lake.scratch_dir()))
    (live / "c.parquet").write_bytes(b"a file still being written")
    two_days_ago = time.time() - 2 * 86400
    for old in (left, left / "b.parquet", live):  # the live directory is old, its open file is not
        os.utime(old, (two_days_ago, two_days_ago))
    lake.scratch_dir()
    assert not left.exists() and (live / "c.parquet").is_file()


def test_local_publish_from_another_filesystem_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = LocalStorage(tmp_path / "lake")
    staged = tmp_path / "f.bin"
    staged.write_bytes(b"abc")

    real_replace = os.replace
    moves = []

    def across_filesystems(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        moves.append(Path(src))
        if Path(src) == staged:  # a rename of the staged file itself: not possible across filesystems
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr("extractor.lake.local.os.replace", across_filesystems)
    assert lake.publish_file(staged, "data/f.bin") == 3
    assert moves[0] == staged and len(moves) == 2  # then a copy to a temp name, renamed into place
    assert not staged.exists() and (tmp_path / "lake" / "data" / "f.bin").read_bytes() == b"abc"


def test_list_is_recursive_sorted_and_prefix_filtered(storage: Storage) -> None:
    for key in ["data/b/2.parquet", "data/a/1.parquet", "data/a/sub/3.parquet", "state/x.json", "dataX/y"]:
        storage.put_bytes(key, b"12345")
    infos = storage.list("data/")
    assert [i.key for i in infos] == ["data/a/1.parquet", "data/a/sub/3.parquet", "data/b/2.parquet"]
    assert all(i.size == 5 and i.last_modified.tzinfo is not None for i in infos)
    assert abs((datetime.now(UTC) - infos[0].last_modified).total_seconds()) < 120
    assert [i.key for i in storage.list("data/a/s")] == ["data/a/sub/3.parquet"]
    assert len(storage.list("")) == 5
    assert storage.list("nothing/") == []


def test_delete_and_exists(storage: Storage) -> None:
    keys = [f"data/t/{i:04d}.parquet" for i in range(25)]
    for key in keys:
        storage.put_bytes(key, b"x")
    assert storage.exists(keys[0])
    storage.delete(keys[:20] + ["data/t/never-existed"])
    assert not storage.exists(keys[0])
    assert [i.key for i in storage.list("data/")] == keys[20:]


def test_s3_delete_is_batched_beyond_one_thousand_keys(s3_bucket: str) -> None:
    s3 = open_lake(f"s3://{s3_bucket}")
    keys = [f"data/{i:05d}" for i in range(1005)]
    client = s3._client  # noqa: SLF001
    for key in keys:
        client.put_object(Bucket=s3_bucket, Key=key, Body=b"")
    s3.delete(keys)
    assert s3.list("data/") == []


def test_delete_if_match_only_removes_the_expected_version(storage: Storage) -> None:
    t1 = storage.put_bytes("state/l.lock", b"1")
    t2 = storage.put_bytes("state/l.lock", b"2")
    assert storage.delete_if_match("state/l.lock", t1) is False
    assert storage.exists("state/l.lock")
    assert storage.delete_if_match("state/l.lock", t2) is True
    assert not storage.exists("state/l.lock")
    assert storage.delete_if_match("state/l.lock", t2) is False


def test_arrow_filesystem_reads_what_the_lake_wrote(storage: Storage, tmp_path: Path) -> None:
    local = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3]}), local)
    storage.upload_file(local, "data/t.parquet")
    fs, root = storage.arrow_filesystem()
    assert pq.read_table(f"{root}/data/t.parquet", filesystem=fs).column("a").to_pylist() == [1, 2, 3]


def test_keys_that_escape_the_lake_are_refused(storage: Storage) -> None:
    for bad in ["../x", "/etc/passwd", "a/../../b", ""]:
        with pytest.raises(LakeError):
            storage.put_bytes(bad, b"x")


def test_s3_uses_the_endpoint_from_the_environment(s3_bucket: str, s3_server) -> None:  # noqa: ANN001
    s3 = open_lake(f"s3://{s3_bucket}/p")
    assert s3.endpoint_url == s3_server.url


def test_missing_bucket_is_one_line_with_a_hint(s3_bucket: str) -> None:
    s3 = open_lake("s3://no-such-bucket-here/lake")
    with pytest.raises(LakeError) as info:
        s3.put_bytes("state/x.json", b"{}")
    text = str(info.value)
    assert "\n" not in text and "NoSuchBucket" in text
    assert "s3://no-such-bucket-here/lake/state/x.json" in text
    assert "create the bucket or fix the lake URL" in text
    with pytest.raises(LakeError, match="create the bucket"):
        s3.list("data/")


def test_missing_bucket_on_upload_is_mapped_too(s3_bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    with pytest.raises(LakeError, match="create the bucket or fix the lake URL") as info:
        open_lake("s3://no-such-bucket-here").upload_file(src, "data/f")
    assert "\n" not in str(info.value)


def test_unreachable_endpoint_is_one_line_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sEcReTkEy-do-not-print"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
    s3 = open_lake("s3://bucket-x/p", connect_timeout=0.5, read_timeout=0.5, max_attempts=2)
    for call in (lambda: s3.get_bytes("state/a.json"), lambda: s3.put_bytes("state/a.json", b"x"),
                 lambda: s3.list("data/"), lambda: s3.exists("x")):
        with pytest.raises(LakeError) as info:
            call()
        text = str(info.value)
        assert "\n" not in text and "Traceback" not in text
        assert "127.0.0.1:1" in text and "AWS_ENDPOINT_URL" in text
        assert secret not in text and "AKIAEXAMPLEKEYID" not in text


def test_access_denied_mentions_credentials(s3_bucket: str, s3_server) -> None:  # noqa: ANN001
    from botocore.exceptions import ClientError

    from extractor.lake.s3 import _s3_error

    exc = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject")
    err = _s3_error(exc, "write", "s3://b/k", "b", s3_server.url)
    assert "credentials" in str(err) and not isinstance(err, StateError)
    conflict = ClientError({"Error": {"Code": "ConditionalRequestConflict", "Message": "x"}}, "PutObject")
    assert isinstance(_s3_error(conflict, "write", "s3://b/k", "b", s3_server.url), StateError)
