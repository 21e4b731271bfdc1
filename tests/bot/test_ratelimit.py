"""The question token bucket: a burst is allowed, then one question per refill, and a refusal
says when the next one is allowed."""

from __future__ import annotations

import pytest

from bot.ratelimit import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_three_quick_questions_pass_the_fourth_is_told_when_to_come_back():
    clock = Clock()
    buckets = TokenBuckets(burst=3, refill_seconds=10, clock=clock)

    assert [buckets.take(1).allowed for _ in range(3)] == [True, True, True]
    refused = buckets.take(1)
    assert not refused.allowed and refused.retry_after == pytest.approx(10)
    clock.now += 4
    assert buckets.take(1).retry_after == pytest.approx(6)
    clock.now += 6
    assert buckets.take(1).allowed
    assert not buckets.take(1).allowed


def test_users_have_their_own_buckets_and_a_bucket_never_holds_more_than_the_burst():
    clock = Clock()
    buckets = TokenBuckets(burst=2, refill_seconds=5, clock=clock)
    buckets.take(1)
    buckets.take(1)
    assert buckets.take(2).allowed  # another user is not held back

    clock.now += 3600  # an hour idle refills to the burst, not to 720 questions
    assert [buckets.take(1).allowed for _ in range(3)] == [True, True, False]


def test_zero_refill_means_no_limit_and_a_per_call_refill_overrides_the_default():
    clock = Clock()
    buckets = TokenBuckets(burst=1, refill_seconds=0, clock=clock)
    assert all(buckets.take(1).allowed for _ in range(50))
    buckets.take(2, refill_seconds=30)
    assert buckets.take(2, refill_seconds=30).retry_after == pytest.approx(30)


def test_many_users_do_not_grow_the_table_without_bound():
    clock = Clock()
    buckets = TokenBuckets(burst=3, refill_seconds=1, clock=clock, max_keys=100)
    for user in range(1000):
        buckets.take(user)
        clock.now += 0.5
    assert len(buckets._buckets) <= 101
