"""The arrivals table on a real Azurite: one row per upload whoever records it, claims that never hand a
file to two runs (also between two hosts' stores), and a repeated claim that returns the same files."""

from __future__ import annotations

import uuid

from jobclusters.arrivals.store import TableArrivals, upload_key


def record(store: TableArrivals, job: str, name: str, etag: str = "e1", rule: int = 0) -> bool:
    return store.record(
        job,
        rule,
        "file_arrival",
        url=f"http://acct/c/{name}",
        etag=etag,
        container="c",
        name=name,
        size=1,
    )


def test_an_upload_is_recorded_once_and_a_new_etag_is_a_new_arrival(storage_connection: str) -> None:
    prefix, job = f"arr{uuid.uuid4().hex[:6]}", "job-a"
    first, second = TableArrivals(storage_connection, prefix), TableArrivals(storage_connection, prefix)
    assert record(first, job, "a.csv") is True
    assert record(second, job, "a.csv") is False  # a second host, or a redelivered event
    assert record(second, job, "a.csv", etag="e2") is True
    assert sorted(a.key for a in first.pending(job)) == sorted(
        [upload_key(job, "http://acct/c/a.csv", "e1"), upload_key(job, "http://acct/c/a.csv", "e2")]
    )


def test_claims_split_the_files_and_a_repeated_claim_returns_the_same_ones(storage_connection: str) -> None:
    ticks = iter(range(100))
    prefix, job = f"arr{uuid.uuid4().hex[:6]}", "job-b"
    host_a = TableArrivals(storage_connection, prefix, clock=lambda: float(next(ticks)))
    host_b = TableArrivals(storage_connection, prefix)
    for i in range(5):
        record(host_a, job, f"f{i}.csv")
    record(host_a, job, "other-rule.csv", rule=1)

    got_a = host_a.claim(job, 0, "token-a", limit=3)
    assert [a.name for a in got_a] == ["f0.csv", "f1.csv", "f2.csv"]  # oldest first
    assert [a.name for a in host_a.claim(job, 0, "token-a", limit=3)] == [a.name for a in got_a]
    got_b = host_b.claim(job, 0, "token-b", limit=10)
    assert [a.name for a in got_b] == ["f3.csv", "f4.csv"]
    assert host_b.claim(job, 0, "token-c", limit=10) == []
    assert [a.name for a in host_b.pending(job)] == ["other-rule.csv"]
