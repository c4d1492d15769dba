"""Pure rules behind the run store: key escaping and ordering, the state order, redaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from jobclusters.tracking.keys import escape_key, inverted
from jobclusters.tracking.models import STATE_RANK, RunState, advances
from jobclusters.tracking.redact import REDACTED, redact

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))


@given(moments, moments)
def test_inverted_timestamps_sort_newest_first(a, b):
    if a < b:
        assert inverted(a) > inverted(b)
    assert len(inverted(a)) == len(inverted(b))


@given(st.text(max_size=200))
def test_escaped_keys_hold_no_forbidden_characters_and_stay_distinct(value):
    escaped = escape_key(value)
    assert not any(c in escaped for c in "/\\#?") and all(ord(c) >= 0x20 for c in escaped)
    assert escape_key(value + "/") != escaped


@given(st.sampled_from(list(RunState)), st.sampled_from(list(RunState)))
def test_no_write_moves_a_state_backwards_within_a_generation(old, new):
    if advances(0, new, 0, old):
        assert STATE_RANK[new] >= STATE_RANK[old]
        assert not old.terminal


def test_a_late_running_never_overwrites_success_but_a_repair_may():
    assert not advances(0, RunState.RUNNING, 0, RunState.SUCCESS)
    assert not advances(0, RunState.FAILED, 0, RunState.SUCCESS)
    assert advances(0, RunState.RUNNING, 0, RunState.RUNNING), "progress details for a running state"
    assert advances(1, RunState.RUNNING, 0, RunState.FAILED)
    assert not advances(0, RunState.SUCCESS, 1, RunState.PENDING)


def test_redaction_by_name_by_content_and_when_secure():
    value = {
        "user": "bob",
        "password": "p",
        "nested": {"storage_account_key": "k", "list": ["ok", "https://a/b?sv=1&sig=abc"]},
        "conn": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=zzz",
        "pat": "dapi" + "0" * 32,
    }
    assert redact(value) == {
        "user": "bob",
        "password": REDACTED,
        "nested": {"storage_account_key": REDACTED, "list": ["ok", REDACTED]},
        "conn": REDACTED,
        "pat": REDACTED,
    }
    assert redact({"a": 1, "b": "x"}, secure=True) == {"a": REDACTED, "b": REDACTED}
    assert redact("plain", secure=True) == REDACTED
    assert redact(None, secure=True) is None


def test_naive_datetimes_are_treated_as_utc():
    naive = datetime(2026, 1, 1, 12)
    assert inverted(naive) == inverted(naive.replace(tzinfo=UTC))
    assert inverted(naive) > inverted(naive + timedelta(microseconds=1))
