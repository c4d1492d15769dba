from __future__ import annotations

from typing import Any

import pytest

from jobclusters.spec import load_definition
from jobclusters.spec.secrets_lint import REDACTED, lint_secrets
from tests.unit.spec.conftest import SEED_DIR

STORAGE_KEY = "Zm9vYmFy" * 10 + "Zm9vYg=="  # 86 base64 chars + "==": the shape of an account key
DAPI = "dapi" + "0123456789abcdef" * 2
SAS = (
    "https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sp=r&sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%3D"
)
CONN = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net"
CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_DS3_v2", "num_workers": 1}


@pytest.mark.parametrize(
    ("doc", "path", "kind"),
    [
        (
            {"gateway": {"restAuthCredential.password": "Password123!"}},
            '$.gateway["restAuthCredential.password"]',
            "password",
        ),
        ({"linked": {"connectionString": CONN}}, "$.linked.connectionString", "connection-string"),
        ({"env": [{"name": "STORAGE", "value": CONN}]}, "$.env[0].value", "connection-string"),
        ({"url": SAS}, "$.url", "sas-token"),
        ({"args": ["--token", DAPI]}, "$.args[1]", "databricks-token"),
        (
            {"spark_conf": {"fs.azure.account.key.acct.dfs.core.windows.net": STORAGE_KEY}},
            '$.spark_conf["fs.azure.account.key.acct.dfs.core.windows.net"]',
            "storage-key",
        ),
        ({"mount": {"accountKey": "storage-account-key"}}, "$.mount.accountKey", "storage-key"),
        ({"opaque": STORAGE_KEY}, "$.opaque", "storage-key"),
        ({"env": [{"name": "STORAGE_ACCOUNT_KEY", "value": "x"}]}, "$.env[0].value", "storage-key"),
        ({"storageaccounts": [{"name": "a", "key": "k"}]}, "$.storageaccounts[0].key", "storage-key"),
        (
            {"ls": {"password": {"type": "SecureString", "value": "hunter2"}}},
            "$.ls.password.value",
            "password",
        ),
        ({"client_secret": "abc"}, "$.client_secret", "token"),
    ],
)
def test_each_kind_of_literal_secret_is_found_at_its_path(doc: dict[str, Any], path: str, kind: str) -> None:
    findings = lint_secrets(doc)
    assert [(f.path, f.kind) for f in findings] == [(path, kind)]


@pytest.mark.parametrize(
    "value",
    [
        "{{secrets/etl/storage-key}}",
        "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/key)",
        "@Microsoft.KeyVault(VaultName=kv;SecretName=key)",
        "%STORAGE_KEY%",
        "[parameters('clusterPassword')]",
        "{{job.parameters.password}}",
        "",
    ],
)
def test_references_are_the_fix_and_never_flagged(value: str) -> None:
    doc = {"password": value, "accountKey": value, "env": [{"name": "DB_PASSWORD", "value": value}]}
    assert lint_secrets(doc) == []


def test_connection_string_with_a_referenced_key_is_fine() -> None:
    assert lint_secrets({"c": "AccountName=a;AccountKey={{secrets/s/k}}"}) == []


def test_key_vault_secret_objects_are_references() -> None:
    doc = {"password": {"type": "AzureKeyVaultSecret", "store": {"referenceName": "kv"}, "secretName": "pw"}}
    assert lint_secrets(doc) == []


def test_ordinary_fields_are_not_secrets() -> None:
    doc = {
        "task_key": "a",
        "idempotency_token": "abc",
        "restAuthCredential.username": "admin",
        "spark.databricks.passthrough.enabled": "true",
        "key_vault": "kv-name",
        "key_name": "k",
        "tasks": [{"key": "build"}],
        "email": "team@company.com",
        "Owner": "me",
    }
    assert lint_secrets(doc) == []


@pytest.mark.parametrize(
    ("fmt", "fix"),
    [
        ("databricks", "{{secrets/<scope>/<key>}}"),
        ("adf", "AzureKeyVaultSecret"),
        ("batch-job", "%SETTING_NAME%"),
    ],
)
def test_the_message_names_the_fix_for_the_home_format(fmt: str, fix: str) -> None:
    finding = lint_secrets({"password": "pw"}, fmt)[0]
    assert fix in finding.message and "Key Vault" in finding.message


def test_findings_never_echo_the_secret() -> None:
    result = load_definition(
        {
            "name": "j",
            "tasks": [
                {
                    "task_key": "a",
                    "new_cluster": {**CLUSTER, "spark_env_vars": {"TOKEN": DAPI}},
                    "spark_python_task": {"python_file": "a.py", "parameters": ["--pw", "p@ssw0rd!", CONN]},
                }
            ],
        },
        required_tags=(),
    )
    text = " ".join(e.message for e in result.errors)
    assert [e.path for e in result.errors] == [
        "$.tasks[0].new_cluster.spark_env_vars.TOKEN",
        "$.tasks[0].spark_python_task.parameters[2]",
    ]
    assert DAPI not in text and "c2VjcmV0" not in text


def test_secrets_in_the_loaded_job_stay_references() -> None:
    result = load_definition(
        {
            "name": "j",
            "tasks": [
                {
                    "task_key": "a",
                    "new_cluster": {
                        **CLUSTER,
                        "spark_conf": {"fs.azure.account.key.a.dfs.core.windows.net": "{{secrets/etl/key}}"},
                    },
                    "notebook_task": {"notebook_path": "/a"},
                }
            ],
        },
        required_tags=(),
    )
    assert result.errors == []
    dumped = result.require().model_dump_json()
    assert "{{secrets/etl/key}}" in dumped


def test_a_definition_with_secrets_never_carries_them_into_the_model() -> None:
    result = load_definition(SEED_DIR / "hdinsight-spark-cluster.json")
    assert len(result.errors) == 4 and result.job is not None
    dumped = result.job.model_dump_json()
    assert "Password123!" not in dumped and "storage-account-key" not in dumped
    assert REDACTED in dumped
