"""Instance queries: SQL filters from an InstanceQuery, and opaque keyset continuation tokens."""

from __future__ import annotations

import base64
from typing import Any

from devhost.engine_api import InstanceQuery


def instance_filter(query: InstanceQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query.runtime_status:
        clauses.append(f"status IN ({','.join('?' for _ in query.runtime_status)})")
        params += [s.value for s in query.runtime_status]
    if query.created_from is not None:
        clauses.append("created >= ?")
        params.append(query.created_from.timestamp())
    if query.created_to is not None:
        clauses.append("created <= ?")
        params.append(query.created_to.timestamp())
    if query.instance_id_prefix:
        clauses.append("substr(instance_id, 1, ?) = ?")
        params += [len(query.instance_id_prefix), query.instance_id_prefix]
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def encode_token(created: float, instance_id: str) -> str:
    """Pages are ordered by (created, instance_id); the token is the last row's key."""
    return base64.urlsafe_b64encode(f"{created!r}|{instance_id}".encode()).decode()


def decode_token(token: str) -> tuple[float, str]:
    try:
        created, last_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return float(created), last_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("continuation_token: not a token returned by query_instances") from exc
