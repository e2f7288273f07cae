"""Run one night of the Airflow DAG with ``dag.test()``; run by the Airflow environment's python, not pytest.

    python _airflow_night.py DAG_FILE DAG_ID   → prints {"state": …, "tasks": {task_id: state}, "xcom": {…}}

The metadata database is AIRFLOW_HOME's SQLite file (``airflow db migrate`` first).
"""

from __future__ import annotations

import importlib.util
import json
import sys

from airflow.models import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session


def main() -> None:
    path, dag_id = sys.argv[1], sys.argv[2]
    spec = importlib.util.spec_from_file_location("extractor_nightly", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = getattr(module, dag_id).test()
    with create_session() as session:
        instances = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id,
                                                       TaskInstance.run_id == run.run_id).all()
        xcoms = session.query(XComModel).filter(XComModel.dag_id == dag_id, XComModel.run_id == run.run_id,
                                                XComModel.key == "return_value").all()
        result = {"state": str(run.state), "tasks": {ti.task_id: str(ti.state) for ti in instances},
                  "xcom": {x.task_id: XComModel.deserialize_value(x) for x in xcoms}}
    print("NIGHT " + json.dumps(result, default=str))


if __name__ == "__main__":
    main()
