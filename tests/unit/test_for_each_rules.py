"""The for_each rules: what inputs are accepted (and the error naming where), how the concurrency is
shared among lanes, iteration keys, the tally's words."""

from __future__ import annotations

import pytest

from jobclusters.spec.for_each import (
    CHUNK_SIZE,
    MAX_INPUTS,
    ForEachError,
    Tally,
    check_concurrency,
    chunks,
    iteration_key,
    lane_concurrency,
    parse_inputs,
    parse_iteration_key,
)
from jobclusters.spec.model import TaskState


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([1, 2], [1, 2]),
        ('["a", "b"]', ["a", "b"]),
        ('[{"x": 1}]', [{"x": 1}]),
        ("[]", []),
        (list(range(MAX_INPUTS)), list(range(MAX_INPUTS))),
    ],
)
def test_inputs_that_are_a_json_array(value: object, expected: list[object]) -> None:
    assert parse_inputs(value, "$.tasks[0].payload.inputs") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"a": 1}', "$.t.inputs: inputs is not a JSON array: got dict"),
        ("not json", "$.t.inputs: inputs is not a JSON array: Expecting value at 0"),
        (7, "$.t.inputs: inputs is not a JSON array: got int"),
        (list(range(MAX_INPUTS + 1)), f"$.t.inputs: inputs has {MAX_INPUTS + 1} values, more than the limit"),
    ],
)
def test_inputs_that_are_not_fail_naming_the_path(value: object, message: str) -> None:
    with pytest.raises(ForEachError) as caught:
        parse_inputs(value, "$.t.inputs")
    assert str(caught.value).startswith(message)
    assert caught.value.path == "$.t.inputs"


@pytest.mark.parametrize(("value", "ok"), [(1, True), (100, True), (0, False), (101, False)])
def test_concurrency_is_1_to_100(value: int, ok: bool) -> None:
    if ok:
        assert check_concurrency(value, "$.c") == value
    else:
        with pytest.raises(ForEachError, match=r"^\$\.c: concurrency must be 1\.\.100"):
            check_concurrency(value, "$.c")


@pytest.mark.parametrize(
    ("concurrency", "chunk_count", "lanes"),
    [
        (1, 9, [1]),
        (2, 9, [1, 1]),
        (4, 9, [1, 1, 1, 1]),
        (5, 9, [2, 1, 1, 1]),
        (10, 9, [3, 3, 2, 2]),
        (100, 200, [25] * 4),
        (8, 1, [8]),  # 8 inputs at concurrency 8: one chunk runs all 8 at once
        (100, 2, [50, 50]),
        (3, 0, [3]),
    ],
)
def test_lanes_share_the_concurrency_exactly(concurrency: int, chunk_count: int, lanes: list[int]) -> None:
    assert lane_concurrency(concurrency, chunk_count) == lanes
    assert sum(lanes) == concurrency


def test_chunks_keep_the_order_and_the_size() -> None:
    found = chunks(list(range(CHUNK_SIZE * 2 + 3)))
    assert [len(c) for c in found] == [CHUNK_SIZE, CHUNK_SIZE, 3]
    assert [i for c in found for i in c] == list(range(CHUNK_SIZE * 2 + 3))


@pytest.mark.parametrize(("key", "index"), [("regions", 0), ("a b[c]", 12)])
def test_iteration_keys_round_trip(key: str, index: int) -> None:
    assert parse_iteration_key(iteration_key(key, index)) == (key, index)


@pytest.mark.parametrize("key", ["plain", "x[]", "x[a]", "[3]"])
def test_other_keys_are_not_iterations(key: str) -> None:
    assert parse_iteration_key(key) is None


def test_the_tally_says_what_the_progress_line_shows() -> None:
    assert Tally(total=4, succeeded=3, failed=1).describe() == "4/4 done, 1 failed"
    assert Tally(total=4, succeeded=3).describe() == "3/4 done"
    assert Tally(total=4, succeeded=3, failed=1).state() == TaskState.FAILED
    assert Tally(total=0).state() == TaskState.SUCCESS
