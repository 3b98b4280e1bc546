from __future__ import annotations

from datetime import UTC, datetime

import pytest
from chalice.app import Cron, Rate

from cashline.dal.due import DUE_SHARDS, due_keys
from cashline.dal.pagination import decode_cursor, encode_cursor
from cashline.errors import ValidationError
from localcloud.handlers import Schedule


def test_a_cursor_round_trips_for_its_own_partition() -> None:
    key = {"pk": {"S": "T#ten_a"}, "sk": {"S": "KEY#key_b"}}
    assert decode_cursor(encode_cursor(key), partition_attr="pk", partition_value="T#ten_a") == key


@pytest.mark.parametrize("cursor", ["not base64 !!", "e30", "bnVsbA"])
def test_a_bad_cursor_names_starting_after(cursor: str) -> None:
    with pytest.raises(ValidationError) as caught:
        decode_cursor(cursor, partition_attr="pk", partition_value="T#ten_a")
    assert caught.value.field == "starting_after"


def test_a_cursor_of_another_tenant_is_refused() -> None:
    cursor = encode_cursor({"pk": {"S": "T#ten_other"}, "sk": {"S": "KEY#x"}})
    with pytest.raises(ValidationError):
        decode_cursor(cursor, partition_attr="pk", partition_value="T#ten_a")


def test_due_keys_spread_a_job_over_shards_and_sort_by_instant() -> None:
    at = datetime(2027, 1, 1, 9, 30, tzinfo=UTC)
    partitions = {due_keys("job", at, "ten_a", f"ent_{i}")[0] for i in range(200)}
    assert len(partitions) == DUE_SHARDS
    # No day in the partition: a sweep reads every item due by its instant, however old.
    assert partitions == {f"DUE#job#{shard}" for shard in range(DUE_SHARDS)}
    _, sort_key = due_keys("job", at, "ten_a", "ent_1")
    assert sort_key == "2027-01-01T09:30:00Z#ten_a#ent_1"


def test_rate_schedules_fire_on_their_period_boundaries() -> None:
    hourly = Schedule("h", Rate(1, unit=Rate.HOURS))
    assert hourly.previous_fire(datetime(2027, 1, 5, 9, 59, 59, tzinfo=UTC)) == datetime(
        2027, 1, 5, 9, tzinfo=UTC
    )
    assert hourly.previous_fire(datetime(2027, 1, 5, 10, 0, 0, tzinfo=UTC)) == datetime(
        2027, 1, 5, 10, tzinfo=UTC
    )


def test_cron_schedules_use_aws_day_numbers() -> None:
    # AWS: 2 = Monday. 2027-01-05 is a Tuesday; the last Monday 06:00 is 2027-01-04.
    weekly = Schedule("w", Cron(0, 6, "?", "*", 2, "*"))
    assert weekly.previous_fire(datetime(2027, 1, 5, 9, tzinfo=UTC)) == datetime(2027, 1, 4, 6, tzinfo=UTC)
