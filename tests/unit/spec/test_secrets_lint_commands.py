"""Literal secrets on command lines (issue 13 defect 8): what is a literal and what is a reference."""

from __future__ import annotations

from typing import Any

import pytest

from jobclusters.spec.secrets_lint import lint_secrets

LITERAL = [
    ("mysql -h db -u app --password=hunter2 sales", "password"),
    ("mysql -h db -u app -phunter2 sales", "password"),
    ("mysqldump -uapp -p'hunter2' sales > out.sql", "password"),
    ("mariadb -u app -phunter2", "password"),
    ("mysql --password hunter2 -u app", "password"),
    ("curl --token abc123 https://api.example.com", "token"),
    ("tool --api-key=k3y-value run", "token"),
    ("az storage blob upload --account-key c2VjcmV0 -f x", "token"),
    ("sqlcmd -S srv -U sa -P S3cret! -Q 'select 1'", "password"),
    ("bcp dbo.t out t.dat -S srv -U sa -P hunter2", "password"),
    ("sshpass -p hunter2 ssh host", "password"),
    ("PGPASSWORD=hunter2 psql -h db", "password"),
    ("export API_TOKEN=abc123; ./run.sh", "token"),
    ("psql postgresql://app:hunter2@db:5432/sales", "password"),
    ("load --conn 'Server=db;Database=s;User Id=app;Password=hunter2;'", "connection-string"),
    ("copy --dest 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0'", "connection-string"),
]

NOT_LITERAL = [
    "mysql -h db -u app --password=%DB_PASSWORD% sales",
    "mysql -h db -u app --password=$DB_PASSWORD sales",
    "mysql -h db -u app --password=${DB_PASSWORD} sales",
    'mysql -h db -u app --password="$DB_PASSWORD" sales',
    "mysql -h db -u app -p sales",
    "mysql -h db -u app -p$DB_PASSWORD sales",
    "mysql -h db -P 3306 -u app -p%DB_PASSWORD%",
    "mysql --password -u app",
    "curl --token {{secrets/api/token}} https://api.example.com",
    "curl --token @Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/t) x",
    "curl --token {{job.parameters.token}} x",
    "tool --token=$(cat /run/secrets/token)",
    "docker login --password-stdin < pw",
    "tool --password-file /etc/app/pw --token-type bearer",
    "tool --no-password x",
    "PGPASSWORD=$PGPASS psql -h db",
    "psql postgresql://app:%DB_PASSWORD%@db/sales",
    "python etl.py --input in.csv --output out.csv -p 4",
    "echo the token is rotated nightly",
    "ls -la /tmp",
]


def _job(command: str) -> dict[str, Any]:
    return {"tasks": [{"key": "t", "payload": {"kind": "command", "command_line": command}}]}


@pytest.mark.parametrize(("command", "kind"), LITERAL)
def test_a_literal_secret_on_a_command_line_is_found(command: str, kind: str) -> None:
    findings = lint_secrets(_job(command))
    assert [(f.path, f.kind) for f in findings] == [("$.tasks[0].payload.command_line", kind)]
    assert all("hunter2" not in f.message and "abc123" not in f.message for f in findings)


@pytest.mark.parametrize("command", NOT_LITERAL)
def test_a_reference_or_no_secret_on_a_command_line_is_fine(command: str) -> None:
    assert lint_secrets(_job(command)) == []


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (["--password", "hunter2"], "$.args[1]"),
        (["-u", "app", "--token", "abc123", "run"], "$.args[3]"),
        (["--password=hunter2"], "$.args[0]"),
    ],
)
def test_a_secret_option_and_its_value_as_separate_arguments_are_found(args: list[str], path: str) -> None:
    assert [f.path for f in lint_secrets({"args": args})] == [path]


@pytest.mark.parametrize(
    "args", [["--password", "%DB_PASSWORD%"], ["--token", "{{secrets/a/b}}"], ["--password", "--user", "x"]]
)
def test_referenced_values_as_separate_arguments_are_fine(args: list[str]) -> None:
    assert lint_secrets({"args": args}) == []


def test_command_patterns_apply_to_command_fields_only() -> None:
    assert lint_secrets({"description": "run it with --token abc123 once"}) == []
