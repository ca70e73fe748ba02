"""`streams.topics.check_partition_counts`: which topics cannot go together."""
from __future__ import annotations

import pytest

from streams.topics import PartitionCountError, check_partition_counts


def _of(count: int) -> set[int]:
    """A topic's partitions as Kafka's metadata gives them."""
    return set(range(count))


def test_topics_all_of_the_expected_count_pass_and_absent_ones_are_not_checked():
    check_partition_counts({"marketplace.orders": _of(8), "standards.scorecards": _of(8), "app-seller-state": None}, 8)


def test_each_topic_of_another_count_is_named_with_its_count_and_the_setting():
    with pytest.raises(PartitionCountError) as raised:
        check_partition_counts({"marketplace.messages": _of(8), "marketplace.orders": _of(12),
                                "app-seller-state": _of(4), "standards.alerts": None}, 8)
    message = str(raised.value)
    assert "PARTITIONS=8" in message
    assert "marketplace.orders has 12, app-seller-state has 4." in message
    assert "marketplace.messages" not in message and "standards.alerts" not in message


def test_without_an_expected_count_the_topics_must_agree_among_themselves():
    check_partition_counts({"marketplace.messages": _of(3), "marketplace.orders": _of(3), "marketplace.refunds": None})
    with pytest.raises(PartitionCountError) as raised:
        check_partition_counts({"marketplace.messages": _of(3), "marketplace.orders": _of(5),
                                "marketplace.refunds": None})
    assert str(raised.value).endswith(": marketplace.messages has 3, marketplace.orders has 5")
