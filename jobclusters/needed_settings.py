"""Which app settings a job needs, and which of them the current settings lack or spell wrong.

A job's tasks decide the services it uses (a `command` task runs on Batch, a Spark task on the platform
of its cluster, ...); each service has a table of settings it cannot start without. Checking that table
before a run starts turns a missing `DATABRICKS_HOST` into one line naming the setting, instead of a
stack trace that the retry policy would mistake for a flake. Local mode runs everything on this machine's
executors and needs no service setting. Values are only tested, never copied into a problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from jobclusters.execution.cluster_mapping import platform_backend, task_cluster
from jobclusters.execution.messages import TaskRunInput
from jobclusters.execution.routing import executor_for
from jobclusters.services.servicebus_connection import ServiceBusNamespace, uses_servicebus_identity
from jobclusters.services.storage import StorageAccount, uses_storage_identity
from jobclusters.settings import LOCAL_STORAGE, ConfigurationError, Settings, configuration_message
from jobclusters.spec.model import ForEachPayload, Job, Task
from jobclusters.tracking.definitions import JobDefinitionStore

Service = Literal["storage", "batch", "databricks", "livy", "synapse", "servicebus"]

SERVICE_LABELS: dict[Service, str] = {
    "storage": "the app's storage account",
    "batch": "Azure Batch",
    "databricks": "Databricks",
    "livy": "HDInsight (Livy)",
    "synapse": "Synapse Spark",
    "servicebus": "Service Bus run events",
}


def _url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("https", "http") and bool(parts.hostname)


def _storage_connection(value: str) -> bool:
    if value.replace(" ", "").lower().rstrip(";") == LOCAL_STORAGE.lower():
        return True
    fields = {part.split("=", 1)[0].strip() for part in value.split(";") if "=" in part}
    return bool(fields & {"AccountName", "BlobEndpoint", "TableEndpoint"})


def _servicebus_connection(value: str) -> bool:
    return "Endpoint=" in value and "sb://" in value


def _always(_: Settings) -> bool:
    return True


@dataclass(frozen=True)
class SettingRule:
    """One setting a service needs: `well_formed` tests a set value, `applies` says when it is needed."""

    setting: str
    expected: str
    well_formed: Callable[[str], bool] | None = None
    applies: Callable[[Settings], bool] = _always


SERVICE_RULES: dict[Service, tuple[SettingRule, ...]] = {
    "storage": (
        SettingRule(
            "AzureWebJobsStorage",
            f"a storage connection string (AccountName=...;AccountKey=... or {LOCAL_STORAGE}),"
            " or the identity settings AzureWebJobsStorage__accountName (recommended on Azure)",
            _storage_connection,
            applies=lambda s: not uses_storage_identity(s),
        ),
        SettingRule(
            "JOBCLUSTERS_RUN_SIGNING_KEY",
            "a random secret (a Key Vault reference) that signs the app's run requests; only local mode"
            " generates one",
            applies=lambda s: s.mode != "local",
        ),
    ),
    "batch": (
        SettingRule(
            "BATCH_ACCOUNT_URL", "the Batch account URL, https://<account>.<region>.batch.azure.com", _url
        ),
        SettingRule(
            "BATCH_ACCOUNT_NAME",
            "the Batch account name (BATCH_ACCOUNT_KEY is set)",
            applies=lambda s: s.batch_account_key is not None,
        ),
    ),
    "databricks": (
        SettingRule("DATABRICKS_HOST", "the workspace URL, https://adb-<id>.<n>.azuredatabricks.net", _url),
    ),
    "livy": (
        SettingRule(
            "HDINSIGHT_LIVY_URL", "the cluster's Livy URL, https://<cluster>.azurehdinsight.net/livy", _url
        ),
        SettingRule("HDINSIGHT_USERNAME", "the cluster login user name"),
        SettingRule("HDINSIGHT_PASSWORD", "the cluster login password"),
    ),
    "synapse": (
        SettingRule(
            "SYNAPSE_ENDPOINT", "the workspace endpoint, https://<workspace>.dev.azuresynapse.net", _url
        ),
        SettingRule("SYNAPSE_SPARK_POOL", "the name of a Spark pool of the workspace"),
    ),
    "servicebus": (
        SettingRule(
            "ServiceBusConnection",
            "a Service Bus connection string (Endpoint=sb://...), or the identity setting"
            " ServiceBusConnection__fullyQualifiedNamespace (recommended on Azure)",
            _servicebus_connection,
            applies=lambda s: not uses_servicebus_identity(s),
        ),
    ),
}


IdentityCheck = Callable[[Settings], ConfigurationError | None]


def _identity_check(uses: Callable[[Settings], bool], build: Callable[[Settings], object]) -> IdentityCheck:
    """The identity shape is checked by the code that builds its clients, so the two cannot disagree."""

    def check(settings: Settings) -> ConfigurationError | None:
        if not uses(settings):
            return None
        try:
            build(settings)
        except ConfigurationError as exc:
            return exc
        return None

    return check


#: identity-based connections (`<connection>__<property>` settings): one problem at most per service
IDENTITY_CHECKS: dict[Service, IdentityCheck] = {
    "storage": _identity_check(uses_storage_identity, StorageAccount.from_settings),
    "servicebus": _identity_check(uses_servicebus_identity, ServiceBusNamespace.from_settings),
}

#: services a run can go without: their problems are reported, they block no task
OPTIONAL_SERVICES: frozenset[Service] = frozenset({"servicebus"})


class SettingProblem(BaseModel):
    """A setting that is missing or malformed, who needs it (a task and the JSON path that makes it need
    the setting, or the app itself) and what is expected. Never the value."""

    model_config = ConfigDict(frozen=True)

    setting: str
    problem: Literal["missing", "malformed"]
    service: Service
    task_key: str | None = None
    path: str = "$"
    expected: str
    required: bool = True

    @property
    def needed_for(self) -> str:
        label = SERVICE_LABELS[self.service]
        if self.task_key is None:
            return label
        return f"{label}: task {self.task_key!r} at {self.path}"

    @property
    def message(self) -> str:
        return configuration_message(self.setting, self.problem, self.needed_for, self.expected)


@dataclass(frozen=True)
class ServiceNeed:
    service: Service
    task_key: str | None = None
    path: str = "$"


_CLUSTER_SERVICES: dict[str, Service] = {
    "databricks": "databricks",
    "livy": "livy",
    "synapse": "synapse",
    "sql_warehouse": "databricks",  # the SQL Statement Execution API of the same workspace
}


def task_service(job: Job, index: int, task: Task) -> ServiceNeed | None:
    """The Azure service that runs `task` (None for tasks decided inline or not runnable here)."""
    path = task.source_path or f"$.tasks[{index}]"
    if isinstance(task.payload, ForEachPayload):
        nested = task_service(job, index, task.payload.task.model_copy(update={"source_path": path}))
        return ServiceNeed(nested.service, task.key, nested.path) if nested is not None else None
    executor = executor_for(task)
    if executor == "batch":
        return ServiceNeed("batch", task.key, path)
    if executor != "cluster":
        return None
    job_cluster = None
    if task.compute is not None and task.compute.job_cluster_key:
        job_cluster = next((c for c in job.job_clusters if c.key == task.compute.job_cluster_key), None)
    run = TaskRunInput(
        run_id="", control_id="", job_id="", job_name=job.name, task=task, job_cluster=job_cluster
    )
    service = _CLUSTER_SERVICES.get(platform_backend(run))
    if service is None:
        return None
    cluster = task_cluster(run)
    where = cluster.source_path if cluster is not None and cluster.source_path else path
    return ServiceNeed(service, task.key, where)


def job_services(job: Job) -> list[ServiceNeed]:
    """Every service the job uses on Azure, one entry per task that uses it, plus the app's own."""
    needs = [ServiceNeed("storage")]
    for index, task in enumerate(job.tasks):
        need = task_service(job, index, task)
        if need is not None:
            needs.append(need)
    if not job.notifications.is_empty() or any(not t.notifications.is_empty() for t in job.tasks):
        needs.append(ServiceNeed("servicebus"))
    return needs


def _value(settings: Settings, setting: str) -> str | None:
    field = next(name for name, info in Settings.model_fields.items() if info.alias == setting)
    value = getattr(settings, field)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return None if value is None or value == "" else str(value)


def need_problems(need: ServiceNeed, settings: Settings) -> list[SettingProblem]:
    """What `settings` lack for one service need. Local mode needs nothing but the storage account."""
    if settings.mode == "local" and need.service != "storage":
        return []
    return _rule_problems(need, settings)


def require_service(service: Service, settings: Settings) -> None:
    """Raise the first problem of the service's settings as a `ConfigurationError`: what a service
    constructor (`from_settings`) calls, whatever the mode, before it builds a client."""
    for problem in _rule_problems(ServiceNeed(service), settings):
        raise ConfigurationError(
            problem.setting, problem.needed_for, problem.expected, problem=problem.problem
        )


def _rule_problems(need: ServiceNeed, settings: Settings) -> list[SettingProblem]:
    problems = []
    for rule in SERVICE_RULES[need.service]:
        if not rule.applies(settings):
            continue
        value = _value(settings, rule.setting)
        if value is None:
            problem: Literal["missing", "malformed"] = "missing"
        elif rule.well_formed is not None and not rule.well_formed(value):
            problem = "malformed"
        else:
            continue
        problems.append(
            SettingProblem(
                setting=rule.setting,
                problem=problem,
                service=need.service,
                task_key=need.task_key,
                path=need.path,
                expected=rule.expected,
                required=need.service not in OPTIONAL_SERVICES,
            )
        )
    check = IDENTITY_CHECKS.get(need.service)
    error = check(settings) if check is not None else None
    if error is not None:
        problems.append(
            SettingProblem(
                setting=error.setting,
                problem="malformed" if error.problem == "malformed" else "missing",
                service=need.service,
                task_key=need.task_key,
                path=need.path,
                expected=error.expected,
                required=need.service not in OPTIONAL_SERVICES,
            )
        )
    return problems


def setting_problems(job: Job, settings: Settings) -> list[SettingProblem]:
    """Every missing or malformed setting the job's services need, in task order."""
    return [p for need in job_services(job) for p in need_problems(need, settings)]


def blocked_tasks(job: Job, settings: Settings) -> dict[str, str]:
    """Tasks that cannot start with these settings, each with the one-line reason of its first problem."""
    blocked: dict[str, str] = {}
    for problem in setting_problems(job, settings):
        if problem.required and problem.task_key is not None:
            blocked.setdefault(problem.task_key, problem.message)
    return blocked


@dataclass(frozen=True)
class JobProblem:
    """A problem of one registered (or given) job; `job` is None for the app's own settings."""

    job: str | None
    problem: SettingProblem

    @property
    def line(self) -> str:
        return f"{self.job}: {self.problem.message}" if self.job else self.problem.message


def app_problems(settings: Settings, jobs: Iterable[tuple[str, Job]]) -> list[JobProblem]:
    """The app's own settings once, then every job's (what `doctor` prints and the host logs at start)."""
    found = [JobProblem(None, p) for p in need_problems(ServiceNeed("storage"), settings)]
    for name, job in jobs:
        found += [JobProblem(name, p) for p in setting_problems(job, settings) if p.service != "storage"]
    return found


async def registered_jobs(store: JobDefinitionStore) -> list[tuple[str, Job]]:
    jobs = []
    for summary in await store.list():
        definition = await store.get(summary.job_id)
        if definition is not None:
            jobs.append((summary.job_id, definition.job))
    return jobs
