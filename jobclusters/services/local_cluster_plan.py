"""What the local cluster runs for one task: the translation of a request task into a launch plan.

Kept apart from the process handling so every payload kind and cluster mode maps in one readable place:
`local[N]` from the workers (single node: the cluster's own `local[...]` master or `local[*]`), the
cluster's `spark_conf`, the app name from the task; Livy/Synapse batches and `spark_submit_task` run their
Python file. Anything the local cluster cannot run is refused at submit with the field's JSON path.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jobclusters.localshim.paths import PathMapper
from jobclusters.services.cluster import (
    ClusterRequest,
    ClusterRunRequest,
    ClusterTask,
    InvalidRunRequest,
    WarmCluster,
)

PlanKind = Literal["python_file", "wheel", "notebook", "sql"]
_SUBMIT_FLAGS = {"--verbose", "--supervise"}
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass
class LaunchPlan:
    task_key: str
    kind: PlanKind
    master: str
    app_name: str
    file: Path | None = None
    parameters: list[str] = field(default_factory=list)
    package_name: str | None = None
    entry_point: str | None = None
    named_parameters: dict[str, str] = field(default_factory=dict)
    notebook_params: dict[str, str] = field(default_factory=dict)
    sql: str | None = None
    conf: dict[str, str] = field(default_factory=dict)
    python_path: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    num_workers: int | None = None
    warm: WarmCluster | None = None
    cluster_conf: dict[str, str] = field(default_factory=dict)

    def task_file(
        self, run_dir: Path, workspace_dir: Path, base_dir: Path, result_file: Path
    ) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "task_key": self.task_key,
            "file": None if self.file is None else str(self.file),
            "parameters": self.parameters,
            "package_name": self.package_name,
            "entry_point": self.entry_point,
            "named_parameters": self.named_parameters,
            "notebook_params": self.notebook_params,
            "sql": self.sql,
            "run_dir": str(run_dir),
            "workspace_dir": str(workspace_dir),
            "base_dir": str(base_dir),
            "result_file": str(result_file),
            "spark": {"master": self.master, "conf": self.conf, "app_name": self.app_name},
        }


def local_master(spec: ClusterRequest | None, cores: int) -> str:
    if spec is None:
        return f"local[{cores}]"
    if spec.single_node:
        master = spec.spark_conf.get("spark.master", "")
        return master if master.startswith("local") else "local[*]"
    return f"local[{max(1, min(spec.max_workers, cores))}]"


def _import_root(path: Path) -> str:
    """A `.py` in py-files is importable from its folder; a zip, egg or wheel from itself."""
    return str(path.parent if path.suffix == ".py" else path)


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@dataclass
class _SubmitArgs:
    app: str
    args: list[str]
    conf: dict[str, str]
    py_files: list[str]
    main_class: str | None


def parse_spark_submit(parameters: list[str], path: str) -> _SubmitArgs:
    conf: dict[str, str] = {}
    py_files: list[str] = []
    main_class = None
    i = 0
    while i < len(parameters) and parameters[i].startswith("--"):
        option = parameters[i]
        if option in _SUBMIT_FLAGS:
            i += 1
            continue
        if i + 1 >= len(parameters):
            raise InvalidRunRequest(f"spark-submit option {option} needs a value", path)
        value = parameters[i + 1]
        if option == "--conf":
            key, sep, conf_value = value.partition("=")
            if not sep:
                raise InvalidRunRequest(f"--conf {value!r} is not key=value", path)
            conf[key] = conf_value
        elif option == "--py-files":
            py_files.extend(v for v in value.split(",") if v)
        elif option == "--class":
            main_class = value
        i += 2
    if i >= len(parameters):
        raise InvalidRunRequest("spark-submit parameters name no application file", path)
    return _SubmitArgs(parameters[i], parameters[i + 1 :], conf, py_files, main_class)


class Planner:
    def __init__(self, mapper: PathMapper, cores: int, check_libraries: bool) -> None:
        self.mapper = mapper
        self.cores = cores
        self.check_libraries = check_libraries

    def _file(self, value: str, path: str, suffixes: tuple[str, ...] = ("",)) -> Path:
        found = self.mapper.find_file(value, suffixes)
        if found is None:
            raise InvalidRunRequest(
                f"{value!r} not found on this machine (looked at {self.mapper.map(value)})", path
            )
        return found

    def _python_file(self, value: str, path: str) -> Path:
        if not value.endswith(".py"):
            raise InvalidRunRequest(f"the local cluster runs Python files only, not {value!r}", path)
        return self._file(value, path)

    def plan(self, request: ClusterRunRequest, index: int, task: ClusterTask) -> LaunchPlan:
        path = f"$.tasks[{index}]"
        spec = request.cluster_for(task)
        app_name = f"{request.run_name or request.run_id}:{task.task_key}"
        plan = LaunchPlan(
            task_key=task.task_key,
            kind="python_file",
            master=local_master(spec, self.cores),
            app_name=app_name,
        )
        plan.warm = request.warm_cluster
        if spec is not None:
            plan.cluster_conf = {k: v for k, v in spec.spark_conf.items() if k != "spark.master"}
            plan.conf.update(plan.cluster_conf)
            plan.env.update(spec.spark_env_vars)
            plan.num_workers = spec.max_workers
        kind = task.payload_kind
        if task.spark_python_task is not None:
            plan.file = self._python_file(task.spark_python_task.python_file, f"{path}.{kind}.python_file")
            plan.parameters = [self.mapper.map_value(p) for p in task.spark_python_task.parameters]
        elif task.notebook_task is not None:
            plan.kind = "notebook"
            plan.file = self._file(
                task.notebook_task.notebook_path, f"{path}.{kind}.notebook_path", ("", ".py")
            )
            plan.notebook_params = {
                k: self.mapper.map_value(v) for k, v in task.notebook_task.base_parameters.items()
            }
        elif task.python_wheel_task is not None:
            wheel = task.python_wheel_task
            plan.kind = "wheel"
            plan.package_name = wheel.package_name
            plan.entry_point = wheel.entry_point
            plan.parameters = [self.mapper.map_value(p) for p in wheel.parameters]
            plan.named_parameters = {k: self.mapper.map_value(v) for k, v in wheel.named_parameters.items()}
        elif task.spark_submit_task is not None:
            where = f"{path}.{kind}.parameters"
            submit = parse_spark_submit(task.spark_submit_task.parameters, where)
            plan.file = self._python_file(submit.app, where)
            plan.parameters = [self.mapper.map_value(p) for p in submit.args]
            plan.conf.update(submit.conf)
            plan.python_path.extend(_import_root(self._file(p, where)) for p in submit.py_files)
        elif task.sql_task is not None:
            plan.kind = "sql"
            sql = task.sql_task
            if sql.file is not None:
                plan.file = self._file(sql.file, f"{path}.{kind}.file", ("", ".sql"))
            plan.sql = sql.query_text
            plan.notebook_params = dict(sql.parameters)
        elif task.spark_batch_task is not None:
            batch = task.spark_batch_task
            where = f"{path}.{kind}"
            plan.file = self._python_file(batch.file, f"{where}.file")
            plan.parameters = [self.mapper.map_value(p) for p in batch.args]
            plan.conf.update(batch.conf)
            plan.python_path.extend(_import_root(self._file(p, f"{where}.pyFiles")) for p in batch.py_files)
            if spec is None and batch.num_executors:
                cores = batch.num_executors * (batch.executor_cores or 1)
                plan.master = f"local[{max(1, min(cores, self.cores))}]"
                plan.num_workers = batch.num_executors
        else:
            raise InvalidRunRequest(
                "the local cluster runs spark_python_task, python_wheel_task, notebook_task, "
                f"spark_submit_task (Python), spark_batch_task (Python) and sql_task; not {kind}",
                f"{path}.{kind}",
            )
        self._libraries(task, path, plan)
        return plan

    def _libraries(self, task: ClusterTask, path: str, plan: LaunchPlan) -> None:
        jars = []
        for j, lib in enumerate(task.libraries):
            where = f"{path}.libraries[{j}]"
            if lib.whl is not None:
                plan.python_path.append(str(self._file(lib.whl, f"{where}.whl")))
            elif lib.jar is not None:
                jars.append(str(self._file(lib.jar, f"{where}.jar")))
            elif lib.pypi is not None:
                match = _REQUIREMENT_NAME.match(lib.pypi.package)
                name = match.group(1) if match else lib.pypi.package
                if self.check_libraries and not _installed(name):
                    raise InvalidRunRequest(
                        f"{name} is not installed for the local cluster; add it to the requirements",
                        f"{where}.pypi.package",
                    )
            elif lib.maven is not None:
                plan.notes.append(
                    f"maven library {lib.maven.coordinates} is not fetched on the local cluster"
                )
            elif lib.requirements is not None:
                plan.notes.append(
                    f"requirements file {lib.requirements} is not installed on the local cluster"
                )
        if jars:
            existing = plan.conf.get("spark.jars")
            plan.conf["spark.jars"] = ",".join([*([existing] if existing else []), *jars])


def default_cores() -> int:
    return max(1, os.cpu_count() or 1)
