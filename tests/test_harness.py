def test_each_test_gets_its_own_database(mysql_db):
    mysql_db.execute("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    assert mysql_db.query("SELECT COUNT(*) FROM t") == [(1,)]


def test_moto_s3_server_enforces_conditional_writes(s3_server, s3_bucket):
    import botocore.exceptions
    import pytest

    s3 = s3_server.client()
    s3.put_object(Bucket=s3_bucket, Key="k", Body=b"1", IfNoneMatch="*")
    with pytest.raises(botocore.exceptions.ClientError):
        s3.put_object(Bucket=s3_bucket, Key="k", Body=b"2", IfNoneMatch="*")
