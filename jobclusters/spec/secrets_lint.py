"""Secret lint: literal credentials anywhere in a definition are errors, with the fix named.

A definition is stored, logged and passed around as an orchestration input, so it must only hold
*references*: a Key Vault reference (`@Microsoft.KeyVault(SecretUri=...)` or an ADF
`AzureKeyVaultSecret` object), an app-setting reference (`%SETTING_NAME%`), or a Databricks secret
reference (`{{secrets/<scope>/<key>}}`). Findings never echo the secret value.

Command lines (`command_line`, `args`, `parameters`, ...) are read as a shell would show them: an option
that names a secret with a literal value (`--password=x`, `--token x`, `-pX` for mysql-like tools, `-P x`
for sqlcmd/bcp, `PGPASSWORD=x`, `scheme://user:x@host`) is a finding too; a value that is a reference
(`%SETTING%`, `$ENV` / `${ENV}` / `$(...)`, `{{...}}`, a Key Vault reference) is not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobclusters.spec.reader import child_path

_REFERENCE = re.compile(
    r"^\s*(\{\{\s*secrets/[^/{}]+/[^/{}]+\s*\}\}|@Microsoft\.KeyVault\(.*\)|%[A-Za-z_][A-Za-z0-9_]*%"
    r"|\$\{\{?\s*[A-Za-z_][\w.:]*\s*\}?\}|\[parameters\('[^']+'\)\]|@pipeline\(\)\.parameters\.\w+"
    r"|\{\{\s*[A-Za-z_][\w.]*\s*\}\})\s*$",
    re.IGNORECASE,
)
_DATABRICKS_TOKEN = re.compile(r"\bdapi[0-9a-f]{32}(-\d+)?\b")
_ACCOUNT_KEY_IN_STRING = re.compile(
    r"AccountKey=(?!\s*(;|$|\{\{\s*secrets/|%\w+%|@Microsoft\.KeyVault))", re.IGNORECASE
)
_SAS = re.compile(r"(?:^|[?&;])sig=[A-Za-z0-9%+/=]{16,}", re.IGNORECASE)
_STORAGE_KEY_VALUE = re.compile(r"^[A-Za-z0-9+/]{86}==$")
_PASSWORD_IN_CONNECTION = re.compile(r"(?:^|;)\s*(password|pwd)\s*=\s*[^;{%\s]", re.IGNORECASE)
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")

_COMMAND_FIELD = re.compile(
    r"(^|_)(command|args|arguments|params|parameters|script|cmd)($|_)|^commandline$", re.IGNORECASE
)
_SECRET_OPTION_WORDS = (
    "password",
    "passwd",
    "token",
    "secret",
    "apikey",
    "accesskey",
    "accountkey",
    "privatekey",
    "sastoken",
)
_NOT_A_VALUE_OPTION = re.compile(
    r"^(no|ask|prompt)|(file|path|stdin|env|name|id|type|policy|vault|prompt|length|expiry|ttl|url|uri)$"
)
_VALUE = r"(?P<value>\$\([^)]*\)|\"[^\"]*\"|'[^']*'|[^\s;|&]+)"
_OPTION = re.compile(r"(?<![\w-])-{1,2}(?P<name>[A-Za-z][\w.-]*)(?P<sep>=|\s+)" + _VALUE)
_ENV_ASSIGNMENT = re.compile(
    r"(?<![\w.-])(?P<name>[A-Za-z_]\w*(?:PASSWORD|PASSWD|PWD|TOKEN|SECRET|API_?KEY|ACCOUNT_?KEY|ACCESS_?KEY))="
    + _VALUE,
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@]+:(?P<value>[^\s/@]+)@", re.IGNORECASE)
_ATTACHED_PASSWORD = (  # tools whose short password option takes its value attached or next
    (re.compile(r"\b(mysql\w*|mariadb\w*)\b"), re.compile(r"(?<!\S)-p(?P<value>[^\s;|&]+)")),
    (re.compile(r"\b(sqlcmd|bcp)\b"), re.compile(r"(?<!\S)-P\s*" + _VALUE)),
    (re.compile(r"\bsshpass\b"), re.compile(r"(?<!\S)-p\s*" + _VALUE)),
)
_REFERENCE_TOKEN = re.compile(
    r"^(\$\w+|\$\{[^}]+\}|\$\(.*\)|%[A-Za-z_]\w*%|\{\{.*\}\}|@Microsoft\.KeyVault\(.*\)|\$\{\{.*\}\})$",
    re.IGNORECASE,
)

_NOT_SECRET_NAMES = re.compile(
    r"(idempotency|token_?type|key_?name|keyvault|key_?vault|secret_?name|secretname|password_?policy"
    r"|isenabled|enabled|username|key_?id|keyid|token_?lifetime|^task_?key$|job_?cluster_?key|environment_?key"
    r"|secure_?(input|output)|securestring)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SecretFinding:
    path: str
    kind: (
        str  # password | storage-key | connection-string | sas-token | databricks-token | token | private-key
    )
    message: str


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _kind_by_name(name: str, path: str) -> str | None:
    if _NOT_SECRET_NAMES.search(name):
        return None
    flat = _squash(name)
    if any(w in flat for w in ("password", "passwd")) or flat in {"pwd", "pass"}:
        return "password"
    if "connectionstring" in flat:
        return "connection-string"
    if any(w in flat for w in ("accountkey", "storagekey", "accesskey", "sharedkey", "masterkey")) or (
        "account.key" in name.lower()
    ):
        return "storage-key"
    if flat in {"key", "primarykey", "secondarykey"} and re.search(r"storage|account", path, re.IGNORECASE):
        return "storage-key"
    if "sastoken" in flat or flat in {"sas", "sasuri", "sasurl"}:
        return "sas-token"
    if any(w in flat for w in ("token", "apikey", "clientsecret", "secret", "privatekey", "credential")):
        return "token"
    return None


def _kind_by_value(value: str) -> str | None:
    if _DATABRICKS_TOKEN.search(value):
        return "databricks-token"
    if _ACCOUNT_KEY_IN_STRING.search(value):
        return "connection-string"
    if _PASSWORD_IN_CONNECTION.search(value):
        return "connection-string"
    if _SAS.search(value):
        return "sas-token"
    if _STORAGE_KEY_VALUE.match(value.strip()):
        return "storage-key"
    if _PRIVATE_KEY.search(value):
        return "private-key"
    return None


def _is_literal(token: str) -> bool:
    """A value that is written inline, not a reference, an empty value or the next option."""
    value = token.strip().strip("\"'")
    return bool(value) and not value.startswith("-") and not _REFERENCE_TOKEN.match(value)


def _secret_option(name: str) -> str | None:
    flat = _squash(name)
    lowered = name.lower().replace("_", "-")
    if _NOT_A_VALUE_OPTION.search(lowered) or not any(w in flat for w in _SECRET_OPTION_WORDS):
        return None
    return "password" if ("password" in flat or "passwd" in flat) else "token"


def _kind_in_command(command: str) -> str | None:
    """The kind of the first literal secret a command line passes, if any."""
    for match in _OPTION.finditer(command):
        kind = _secret_option(match["name"])
        if kind and _is_literal(match["value"]):
            return kind
    for match in _ENV_ASSIGNMENT.finditer(command):
        if _is_literal(match["value"]):
            return (
                "password" if "pass" in match["name"].lower() or "pwd" in match["name"].lower() else "token"
            )
    for match in _URL_CREDENTIALS.finditer(command):
        if _is_literal(match["value"]):
            return "password"
    for tool, option in _ATTACHED_PASSWORD:
        if tool.search(command):
            for match in option.finditer(command):
                if _is_literal(match["value"]):
                    return "password"
    return None


def _option_awaiting_value(item: str) -> str | None:
    """`--password` (or `-p` of nothing) as one argv item: the next item is its value."""
    match = re.fullmatch(r"-{1,2}(?P<name>[A-Za-z][\w.-]*)", item.strip())
    return _secret_option(match["name"]) if match else None


_WHAT = {
    "password": "a literal password",
    "storage-key": "a literal storage account key",
    "connection-string": "a connection string with an inline AccountKey or password",
    "sas-token": "a SAS token (sig=...)",
    "databricks-token": "a Databricks personal access token (dapi...)",
    "token": "a literal secret or token",
    "private-key": "a private key",
}


def fix_for(source_format: str) -> str:
    databricks = "a Databricks secret reference {{secrets/<scope>/<key>}}"
    key_vault = (
        "a Key Vault reference @Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<name>)"
    )
    app_setting = "an app-setting reference %SETTING_NAME%"
    if source_format == "databricks":
        return f"replace it with {databricks}, {key_vault} or {app_setting}"
    if source_format == "adf":
        return (
            f"replace it with an AzureKeyVaultSecret reference (or {key_vault}), or {app_setting}; "
            "for storage, prefer managed identity"
        )
    if source_format == "native":
        return f"replace it with {key_vault}, {app_setting} or {databricks}"
    return f"replace it with {key_vault} or {app_setting}; for storage, prefer managed identity"


def is_reference(value: str) -> bool:
    return bool(_REFERENCE.match(value))


def lint_secrets(doc: Any, source_format: str = "native", path: str = "$") -> list[SecretFinding]:
    """Every literal secret in `doc`, by field name or by the shape of the value."""
    findings: list[SecretFinding] = []
    fix = fix_for(source_format)
    _walk(doc, path, None, fix, findings)
    return findings


def _walk(value: Any, path: str, name: str | None, fix: str, out: list[SecretFinding]) -> None:
    if isinstance(value, Mapping):
        if _is_secret_object(value):
            return
        if value.get("type") == "SecureString" and isinstance(value.get("value"), str):
            _check(value["value"], child_path(path, "value"), name or "password", fix, out)
            return
        pair_name = value.get("name")
        if isinstance(pair_name, str) and "value" in value and isinstance(value.get("value"), str):
            _check(value["value"], child_path(path, "value"), pair_name, fix, out)
            for key, item in value.items():
                if key != "value":
                    _walk(item, child_path(path, str(key)), str(key), fix, out)
            return
        for key, item in value.items():
            _walk(item, child_path(path, str(key)), str(key), fix, out)
    elif isinstance(value, list):
        awaiting: str | None = None
        for i, item in enumerate(value):
            found = len(out)
            _walk(item, child_path(path, i), name, fix, out)
            if awaiting and isinstance(item, str) and len(out) == found and _is_literal(item):
                _add(out, child_path(path, i), awaiting, fix)
            command_like = name is not None and _COMMAND_FIELD.search(name)
            awaiting = _option_awaiting_value(item) if command_like and isinstance(item, str) else None
    elif isinstance(value, str):
        _check(value, path, name, fix, out)


def _is_secret_object(value: Mapping[str, Any]) -> bool:
    """An ADF Key Vault secret reference object: already the fix."""
    return value.get("type") == "AzureKeyVaultSecret"


def _check(value: str, path: str, name: str | None, fix: str, out: list[SecretFinding]) -> None:
    text = value.strip()
    if not text or is_reference(text):
        return
    kind = _kind_by_value(text)
    if kind is None and name is not None:
        kind = _kind_by_name(name, path)
    if kind is None and name is not None and _COMMAND_FIELD.search(name):
        kind = _kind_in_command(text)
    if kind is not None:
        _add(out, path, kind, fix)


def _add(out: list[SecretFinding], path: str, kind: str, fix: str) -> None:
    out.append(SecretFinding(path=path, kind=kind, message=f"{_WHAT[kind]} is written inline; {fix}"))


REDACTED = "***redacted: literal secret***"


def redact(value: Any, paths: set[str], path: str = "$") -> Any:
    """A copy of `value` with the strings at `paths` replaced, so a finding's secret never reaches the
    model (and from there a log, a Table row or an orchestration input)."""
    if not paths:
        return value
    if isinstance(value, Mapping):
        return {key: redact(item, paths, child_path(path, str(key))) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, paths, child_path(path, i)) for i, item in enumerate(value)]
    if isinstance(value, str) and path in paths:
        return REDACTED
    return value
