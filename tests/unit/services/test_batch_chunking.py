"""Chunking invariants for adding tasks: the Batch limits hold for any task list, and nothing is lost."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from jobclusters.services.azure_batch import chunk_tasks
from jobclusters.services.batch import MAX_REQUEST_BYTES, MAX_TASKS_PER_REQUEST

task_bodies = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
            "commandLine": st.text(min_size=1, max_size=200),
        },
        optional={"padding": st.integers(min_value=0, max_value=300_000).map(lambda n: "x" * n)},
    ),
    max_size=400,
)


@settings(max_examples=60, deadline=None)
@given(task_bodies)
def test_every_request_has_at_most_100_tasks_and_stays_under_1mb(bodies):
    for chunk in chunk_tasks(bodies):
        assert 1 <= len(chunk) <= MAX_TASKS_PER_REQUEST
        envelope = len(json.dumps({"value": chunk}).encode())  # the SDK's encoding
        assert envelope < MAX_REQUEST_BYTES or len(chunk) == 1


@settings(max_examples=60, deadline=None)
@given(task_bodies)
def test_every_task_is_sent_exactly_once_in_order(bodies):
    sent = [body for chunk in chunk_tasks(bodies) for body in chunk]
    assert sent == bodies


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=50), st.integers(min_value=1_000, max_value=50_000), st.data())
def test_custom_limits_are_respected(max_count, max_bytes, data):
    bodies = data.draw(st.lists(st.fixed_dictionaries({"id": st.text(max_size=30)}), max_size=200))
    for chunk in chunk_tasks(bodies, max_count=max_count, max_bytes=max_bytes):
        assert len(chunk) <= max_count
        assert len(json.dumps({"value": chunk}).encode()) < max_bytes or len(chunk) == 1


def test_a_task_larger_than_the_limit_travels_alone():
    big = {"id": "big", "commandLine": "x" * (MAX_REQUEST_BYTES + 10)}
    chunks = list(chunk_tasks([{"id": "a", "commandLine": "a"}, big, {"id": "b", "commandLine": "b"}]))
    assert [len(c) for c in chunks] == [1, 1, 1]
    assert chunks[1] == [big]
