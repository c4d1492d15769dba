"""The local cluster really running jobs as subprocesses (no Spark session started in these tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobclusters.services.cluster import (
    ClusterJobService,
    InvalidRunRequest,
    LifeCycle,
    ResultState,
    RunHandle,
    parse_run_request,
)
from jobclusters.services.local_cluster import LocalClusterJobService
from tests.eventually import eventually

WAIT = 60.0


@pytest.fixture
def jobs(tmp_path: Path) -> Path:
    folder = tmp_path / "jobs"
    folder.mkdir()
    return folder


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[LocalClusterJobService]:
    service = LocalClusterJobService(tmp_path / "state", max_local_cores=2)
    yield service
    service.close(wait=False)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run(
    svc: LocalClusterJobService, jobs: Path, tasks: list[dict[str, Any]], key: str = "k", **extra: Any
) -> RunHandle:
    request = parse_run_request({"run_id": "run-1", "base_dir": str(jobs), "tasks": tasks, **extra})
    return svc.submit(request, key)


def alive(pid: int, settle: float = 5.0) -> bool:
    """Alive after `settle` seconds; a zombie waiting for its new parent to reap it counts as dead."""
    end = time.monotonic() + settle
    while True:
        try:
            os.kill(pid, 0)
            status = Path(f"/proc/{pid}/status")
            zombie = status.exists() and "\nState:\tZ" in status.read_text()
        except (ProcessLookupError, FileNotFoundError):
            return False
        if zombie:
            return False
        if time.monotonic() > end:
            return True
        time.sleep(0.05)


def test_service_satisfies_the_protocol(svc) -> None:
    assert isinstance(svc, ClusterJobService)


def test_python_task_runs_with_parameters_and_mapped_cloud_paths(svc, jobs) -> None:
    write(jobs, "hello.py", "import sys\nprint('args', sys.argv[1:])\n")
    handle = run(
        svc,
        jobs,
        [
            {
                "task_key": "hello",
                "spark_python_task": {
                    "python_file": "hello.py",
                    "parameters": ["--in", "dbfs:/raw/x.csv", "plain"],
                },
            }
        ],
    )
    state = svc.wait(handle, WAIT)
    assert (state.life_cycle, state.result) == (LifeCycle.TERMINATED, ResultState.SUCCESS)
    assert state.start_time and state.end_time and state.end_time >= state.start_time
    logs = svc.get_output(handle).task("hello").logs
    expected = str(svc.workspace_dir / "dbfs" / "raw" / "x.csv")
    assert f"args ['--in', '{expected}', 'plain']" in logs


def test_submit_returns_before_the_job_finishes(svc, jobs) -> None:
    write(jobs, "slow.py", "import time\ntime.sleep(1.5)\n")
    started = time.monotonic()
    handle = run(svc, jobs, [{"task_key": "slow", "spark_python_task": {"python_file": "slow.py"}}])
    assert time.monotonic() - started < 1.0
    assert svc.get_state(handle).life_cycle in (LifeCycle.PENDING, LifeCycle.RUNNING)
    assert svc.wait(handle, WAIT).result is ResultState.SUCCESS


def test_an_uncaught_exception_fails_the_run_with_its_message_and_trace(svc, jobs) -> None:
    write(jobs, "bad.py", "print('reading input')\nraise ValueError('no rows for 2026-01-15')\n")
    handle = run(svc, jobs, [{"task_key": "bad", "spark_python_task": {"python_file": "bad.py"}}])
    state = svc.wait(handle, WAIT)
    assert state.result is ResultState.FAILED
    assert "ValueError: no rows for 2026-01-15" in state.message
    out = svc.get_output(handle).task("bad")
    assert out.error == "ValueError: no rows for 2026-01-15"
    assert out.error_trace and "Traceback" in out.error_trace and "reading input" in out.logs


def test_a_non_zero_exit_fails_and_downstream_tasks_do_not_run(svc, jobs) -> None:
    write(jobs, "exit3.py", "import sys\nprint('Job failed with error: disk full')\nsys.exit(3)\n")
    write(jobs, "after.py", "open('ran-after', 'w').write('x')\n")
    handle = run(
        svc,
        jobs,
        [
            {"task_key": "first", "spark_python_task": {"python_file": "exit3.py"}},
            {"task_key": "second", "depends_on": ["first"], "spark_python_task": {"python_file": "after.py"}},
        ],
    )
    state = svc.wait(handle, WAIT)
    assert state.result is ResultState.FAILED
    first, second = state.tasks
    assert first.result is ResultState.FAILED and "exited with code 3" in first.message
    assert "disk full" in first.message
    assert second.result is ResultState.FAILED and "upstream task first" in second.message
    assert not (jobs / "ran-after").exists()


CHILD_SLEEPER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])
open('child.pid', 'w').write(str(child.pid))
print('started', flush=True)
time.sleep(120)
"""


def test_a_timeout_kills_the_whole_process_tree(svc, jobs) -> None:
    write(jobs, "hang.py", CHILD_SLEEPER)
    started = time.monotonic()
    handle = run(
        svc,
        jobs,
        [{"task_key": "hang", "spark_python_task": {"python_file": "hang.py"}, "timeout_seconds": 2}],
    )
    state = svc.wait(handle, WAIT)
    assert state.result is ResultState.TIMEDOUT and "timed out" in state.message
    assert time.monotonic() - started < 20
    child = int((jobs / "child.pid").read_text())
    assert not alive(child), "the job's own child process must die with it"


def test_cancel_stops_a_running_job(svc, jobs) -> None:
    write(jobs, "hang.py", CHILD_SLEEPER)
    handle = run(svc, jobs, [{"task_key": "hang", "spark_python_task": {"python_file": "hang.py"}}])
    eventually((jobs / "child.pid").exists, timeout=20, what="child.pid")
    svc.cancel(handle)
    state = svc.wait(handle, WAIT)
    assert state.result is ResultState.CANCELED
    assert not alive(int((jobs / "child.pid").read_text()))
    assert "started" in svc.get_output(handle).task("hang").logs


def test_cancel_from_another_service_object_reaches_the_owner(svc, jobs, tmp_path) -> None:
    write(jobs, "hang.py", CHILD_SLEEPER)
    handle = run(svc, jobs, [{"task_key": "hang", "spark_python_task": {"python_file": "hang.py"}}])
    eventually((jobs / "child.pid").exists, timeout=20, what="child.pid")
    other = LocalClusterJobService(tmp_path / "state")
    other.cancel(handle)
    assert svc.wait(handle, WAIT).result is ResultState.CANCELED
    other.close()


NOTEBOOK = """# Databricks notebook source
# MAGIC %md
# MAGIC # Daily report
# MAGIC Widgets come from the task's base_parameters.

# COMMAND ----------

dbutils.widgets.text("region", "all")
report_date = dbutils.widgets.get("report_date")
region = dbutils.widgets.get("region")
count = dbutils.jobs.taskValues.get(taskKey="extract", key="rows")

# COMMAND ----------

# MAGIC %python
# MAGIC print(f"report {report_date} {region} rows={count}")
# MAGIC dbutils.jobs.taskValues.set(key="summary", value={"date": report_date, "rows": count})

# COMMAND ----------

dbutils.notebook.exit(f"ok:{count}")

# COMMAND ----------

raise RuntimeError("cells after notebook.exit must not run")
"""


def test_notebook_params_task_values_and_exit_value(svc, jobs) -> None:
    write(jobs, "extract.py", "dbutils.jobs.taskValues.set('rows', 42)\n")
    write(jobs, "Reports/DailySalesReport.py", NOTEBOOK)
    handle = run(
        svc,
        jobs,
        [
            {"task_key": "extract", "spark_python_task": {"python_file": "extract.py"}},
            {
                "task_key": "report",
                "depends_on": ["extract"],
                "notebook_task": {
                    "notebook_path": "Reports/DailySalesReport",
                    "base_parameters": {"report_date": "2026-01-15"},
                },
            },
        ],
    )
    state = svc.wait(handle, WAIT)
    assert state.result is ResultState.SUCCESS, state.message
    out = svc.get_output(handle)
    assert out.task("extract").task_values == {"rows": 42}
    report = out.task("report")
    assert "report 2026-01-15 all rows=42" in report.logs
    assert report.task_values == {"summary": {"date": "2026-01-15", "rows": 42}}
    assert report.notebook_result == "ok:42"


def test_missing_widget_fails_with_the_widget_name(svc, jobs) -> None:
    write(jobs, "nb.py", "# Databricks notebook source\nx = dbutils.widgets.get('input_path')\n")
    handle = run(svc, jobs, [{"task_key": "nb", "notebook_task": {"notebook_path": "nb.py"}}])
    state = svc.wait(handle, WAIT)
    assert state.result is ResultState.FAILED and "input_path" in state.message


def make_wheel(folder: Path) -> Path:
    path = folder / "tinywheel-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "tinywheel/__init__.py", "import sys\ndef main():\n    print('wheel args', sys.argv[1:])\n"
        )
        archive.writestr(
            "tinywheel-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinywheel\nVersion: 1.0\n"
        )
        archive.writestr(
            "tinywheel-1.0.dist-info/entry_points.txt", "[console_scripts]\nprocess = tinywheel:main\n"
        )
        archive.writestr(
            "tinywheel-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr("tinywheel-1.0.dist-info/RECORD", "")
    return path


def test_python_wheel_task_calls_the_entry_point_of_a_wheel_library(svc, jobs) -> None:
    make_wheel(jobs)
    handle = run(
        svc,
        jobs,
        [
            {
                "task_key": "wheel",
                "new_cluster": {"num_workers": 0},
                "python_wheel_task": {
                    "package_name": "tinywheel",
                    "entry_point": "process",
                    "parameters": ["--input", "x"],
                    "named_parameters": {"mode": "fast"},
                },
                "libraries": [{"whl": "tinywheel-1.0-py3-none-any.whl"}],
            }
        ],
    )
    assert svc.wait(handle, WAIT).result is ResultState.SUCCESS
    assert "wheel args ['--input', 'x', '--mode=fast']" in svc.get_output(handle).task("wheel").logs


def test_spark_submit_and_livy_batch_payloads_run_their_python_file(svc, jobs) -> None:
    write(jobs, "lib/helpers.py", "def greet(n):\n    return f'hi {n}'\n")
    write(jobs, "app.py", "import sys\nfrom helpers import greet\nprint(greet(sys.argv[1]))\n")
    handle = run(
        svc,
        jobs,
        [
            {
                "task_key": "submit",
                "new_cluster": {"num_workers": 2},
                "spark_submit_task": {
                    "parameters": ["--py-files", "lib/helpers.py", "--conf", "spark.x=1", "app.py", "submit"]
                },
            },
            {
                "task_key": "batch",
                "spark_batch_task": {
                    "file": "app.py",
                    "args": ["batch"],
                    "pyFiles": ["lib/helpers.py"],
                    "numExecutors": 2,
                },
            },
        ],
    )
    assert svc.wait(handle, WAIT).result is ResultState.SUCCESS
    out = svc.get_output(handle)
    assert "hi submit" in out.task("submit").logs and "hi batch" in out.task("batch").logs
    plan = json.loads((svc.root / handle.run_id / "tasks" / "submit" / "task.json").read_text())
    assert plan["spark"]["master"] == "local[2]" and plan["spark"]["conf"]["spark.x"] == "1"


def test_a_missing_job_file_is_refused_at_submit_with_its_path(svc, jobs) -> None:
    with pytest.raises(InvalidRunRequest) as info:
        run(
            svc, jobs, [{"task_key": "t", "spark_python_task": {"python_file": "dbfs:/FileStore/missing.py"}}]
        )
    assert info.value.path == "$.tasks[0].spark_python_task.python_file"
    assert "missing.py" in str(info.value)


def test_jar_tasks_are_refused_with_their_path(svc, jobs) -> None:
    with pytest.raises(InvalidRunRequest) as info:
        run(svc, jobs, [{"task_key": "t", "spark_jar_task": {"main_class_name": "Main"}}])
    assert info.value.path == "$.tasks[0].spark_jar_task"


def test_the_same_key_runs_once(svc, jobs) -> None:
    write(jobs, "count.py", "open('runs.txt', 'a').write('x')\n")
    tasks = [{"task_key": "t", "spark_python_task": {"python_file": "count.py"}}]
    first = run(svc, jobs, tasks, key="same")
    again = run(svc, jobs, tasks, key="same")
    assert first.run_id == again.run_id and again.task_run_ids == first.task_run_ids
    svc.wait(first, WAIT)
    assert (jobs / "runs.txt").read_text() == "x"


def test_state_and_output_survive_a_new_service_object(svc, jobs, tmp_path) -> None:
    write(jobs, "ok.py", "print('persisted output')\n")
    handle = run(svc, jobs, [{"task_key": "t", "spark_python_task": {"python_file": "ok.py"}}])
    svc.wait(handle, WAIT)
    later = LocalClusterJobService(tmp_path / "state")
    restored = RunHandle.model_validate_json(handle.model_dump_json())
    assert later.get_state(restored).result is ResultState.SUCCESS
    assert "persisted output" in later.get_output(restored).task("t").logs
    later.close()


def test_a_finished_run_whose_owner_died_before_saying_so_is_adopted_without_rerunning(svc, jobs) -> None:
    """Issue 13 defect 1: the state says RUNNING, the owner is gone, every task had ended: the adopter
    finishes the run from the task results, and runs nothing again."""
    write(jobs, "ok.py", f"open({str(jobs / 'ran')!r}, 'a').write('ran\\n')\n")
    handle = run(svc, jobs, [{"task_key": "t", "spark_python_task": {"python_file": "ok.py"}}])
    svc.wait(handle, WAIT)
    state_file = svc.root / handle.run_id / "state.json"
    data = json.loads(state_file.read_text())
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    data["owner_pid"] = gone.pid
    data["state"]["life_cycle"] = "RUNNING"
    data["state"]["result"] = None
    state_file.write_text(json.dumps(data))
    state = svc.wait(handle, WAIT)
    assert state.result is ResultState.SUCCESS, state.message
    assert (jobs / "ran").read_text() == "ran\n"


OWNER_SCRIPT = """
import sys, time
from pathlib import Path
from jobclusters.services.cluster import parse_run_request
from jobclusters.services.local_cluster import LocalClusterJobService
state, jobs = Path(sys.argv[1]), Path(sys.argv[2])
svc = LocalClusterJobService(state, max_local_cores=2)
request = parse_run_request({"run_id": "run-1", "base_dir": str(jobs), "tasks": [
    {"task_key": "first", "spark_python_task": {"python_file": "gated.py"}},
    {"task_key": "second", "depends_on": ["first"],
     "spark_python_task": {"python_file": "after.py"}},
]})
handle = svc.submit(request, "crash")
while not (svc.root / handle.run_id / "tasks" / "first" / "pid").exists():
    time.sleep(0.02)
print(handle.model_dump_json(), flush=True)
time.sleep(60)
"""


def test_a_run_whose_owner_died_is_adopted_and_goes_on_without_repeating_work(jobs, tmp_path) -> None:
    """Issue 13 defect 1: the task running when the owner was killed goes on and is followed to its end;
    the rest of the run runs in the adopting process; nothing runs twice."""
    ground, gate = jobs / "ground", jobs / "gate"
    write(
        jobs,
        "gated.py",
        f"""import os, time
while not os.path.exists({str(gate)!r}):
    time.sleep(0.02)
open({str(ground)!r}, "a").write("first\\n")
""",
    )
    write(jobs, "after.py", f"open({str(ground)!r}, 'a').write('second\\n')\n")
    state = tmp_path / "state"
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, str(state), str(jobs)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    try:
        assert owner.stdout is not None
        handle = RunHandle.model_validate_json(owner.stdout.readline())
    finally:
        owner.kill()
        owner.wait()
    gate.touch()
    adopter = LocalClusterJobService(state, max_local_cores=2)
    try:
        final = adopter.wait(handle, WAIT)
    finally:
        adopter.close(wait=False)
    assert final.result is ResultState.SUCCESS, final.message
    assert ground.read_text().splitlines() == ["first", "second"]


def test_without_pyspark_an_import_says_how_to_install_it(tmp_path, jobs) -> None:
    system_python = "/usr/bin/python3"
    probe = subprocess.run([system_python, "-c", "import pyspark"], capture_output=True)
    if not Path(system_python).exists() or probe.returncode == 0:
        pytest.skip("needs an interpreter without pyspark")
    service = LocalClusterJobService(tmp_path / "state2", python=system_python)
    write(jobs, "spark_job.py", "from pyspark.sql import SparkSession\n")
    handle = run(service, jobs, [{"task_key": "t", "spark_python_task": {"python_file": "spark_job.py"}}])
    state = service.wait(handle, WAIT)
    service.close()
    assert state.result is ResultState.FAILED
    assert "requirements-spark.txt" in state.message and "ModuleNotFoundError" in state.message


def test_job_file_from_blob_storage(storage_connection: str, tmp_path, jobs) -> None:
    from azure.storage.blob import BlobServiceClient

    blobs = BlobServiceClient.from_connection_string(storage_connection)
    container = blobs.get_container_client("jobscripts")
    if not container.exists():
        container.create_container()
    container.upload_blob("etl/from_blob.py", b"print('ran from blob storage')\n", overwrite=True)
    service = LocalClusterJobService(tmp_path / "state3", storage_connection=storage_connection)
    handle = run(
        service,
        jobs,
        [
            {
                "task_key": "t",
                "spark_python_task": {
                    "python_file": "abfss://jobscripts@devstoreaccount1.dfs.core.windows.net/etl/from_blob.py"
                },
            }
        ],
    )
    state = service.wait(handle, WAIT)
    service.close()
    assert state.result is ResultState.SUCCESS
    assert "ran from blob storage" in service.get_output(handle).task("t").logs


def test_closing_without_waiting_cancels_running_jobs(tmp_path, jobs) -> None:
    service = LocalClusterJobService(tmp_path / "state4")
    write(jobs, "hang.py", CHILD_SLEEPER)
    handle = run(service, jobs, [{"task_key": "hang", "spark_python_task": {"python_file": "hang.py"}}])
    eventually((jobs / "child.pid").exists, timeout=20, what="child.pid")
    service.close(wait=False)
    state = service.get_state(handle)
    assert state.result is ResultState.CANCELED
    assert not alive(int((jobs / "child.pid").read_text()))
