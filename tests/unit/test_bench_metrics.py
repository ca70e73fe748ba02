"""What the benchmark reads of a worker's /metrics: sums per sample name,
a counter per label value, a histogram's buckets over its other labels and
their quantile (numbers by hand from the exposition below)."""
from __future__ import annotations

import pytest

from bench.workers import by_label, histogram, histogram_delta, parse_metrics, pauses, quantile


def _wait_seconds(*partitions) -> str:
    """A histogram's exposition: per partition (count at le 0.1, at 1.0, in all, sum)."""
    lines = ["# HELP wait_seconds Wait", "# TYPE wait_seconds histogram"]
    for partition, (at_tenth, at_one, count, total) in enumerate(partitions):
        labels = f'partition="{partition}"'
        lines += [f'wait_seconds_bucket{{{labels},le="0.1"}} {at_tenth}',
                  f'wait_seconds_bucket{{{labels},le="1.0"}} {at_one}',
                  f'wait_seconds_bucket{{{labels},le="+Inf"}} {count}',
                  f"wait_seconds_count{{{labels}}} {count}", f"wait_seconds_sum{{{labels}}} {total}"]
    return "\n".join(lines) + "\n"


BEFORE = _wait_seconds((1.0, 1.0, 1.0, 0.05))
AFTER = _wait_seconds((3.0, 7.0, 9.0, 12.5), (2.0, 2.0, 2.0, 0.1)) + """\
# HELP out_total Records out
# TYPE out_total counter
out_total{topic="a",partition="0"} 3.0
out_total{topic="b",partition="0"} 4.0
out_total{topic="a",partition="1"} 5.0
"""


def test_sums_per_sample_name():
    sums = parse_metrics(AFTER)
    assert sums["out_total"] == 12.0
    assert sums["wait_seconds_count"] == 11.0
    assert sums["wait_seconds_sum"] == pytest.approx(12.6)


def test_a_counter_per_label_value():
    assert by_label(AFTER, "out_total", "topic") == {"a": 8.0, "b": 4.0}


def test_histogram_buckets_summed_over_partitions_and_since_a_scrape():
    assert histogram(AFTER, "wait_seconds") == {0.1: 5.0, 1.0: 9.0, float("inf"): 11.0}
    assert histogram_delta(BEFORE, AFTER, "wait_seconds") == {0.1: 4.0, 1.0: 8.0, float("inf"): 10.0}


def test_quantile_is_linear_within_its_bucket():
    buckets = histogram_delta(BEFORE, AFTER, "wait_seconds")
    # rank 0.5 * 10 = 5 falls in (0.1, 1.0], which holds ranks 4 to 8: 0.1 + 0.9 * (5 - 4) / (8 - 4)
    assert quantile(buckets, 0.5) == pytest.approx(0.325)
    # rank 2 in the first bucket, from 0: 0.1 * 2 / 4
    assert quantile(buckets, 0.2) == pytest.approx(0.05)
    # rank 9.9 beyond the last finite bound: that bound, as Prometheus answers
    assert quantile(buckets, 0.99) == 1.0
    assert quantile({}, 0.5) is None


def test_pauses_since_a_scrape_count_total_and_the_bound_of_the_longest():
    # Since BEFORE: 10 pauses (8 + 2), 12.55 s in all (12.6 - 0.05); the first
    # partition's 9 - 7 = 2 new ones beyond 1.0 s: the longest is only known to be under +Inf.
    assert pauses(BEFORE, AFTER, "wait_seconds") == {"count": 10.0, "seconds": pytest.approx(12.55),
                                                    "longest_at_most": float("inf")}
    # Only the second partition's 2 pauses of up to 0.1 s (0.1 s in all) since a scrape that had the first's.
    first_only = _wait_seconds((3.0, 7.0, 9.0, 12.5))
    assert pauses(first_only, AFTER, "wait_seconds") == {"count": 2.0, "seconds": pytest.approx(0.1),
                                                        "longest_at_most": 0.1}
    assert pauses(AFTER, AFTER, "wait_seconds") == {"count": 0.0, "seconds": 0.0, "longest_at_most": 0.0}
    assert pauses(BEFORE, AFTER, "not_exposed_seconds") is None
