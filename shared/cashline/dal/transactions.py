"""DynamoDB transactions over the bound table (TransactWriteItems, up to 100 items)."""

from __future__ import annotations

from functools import lru_cache

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from cashline.dal.table import CashlineItem


@lru_cache(maxsize=4)
def _connection(region: str | None, host: str | None) -> Connection:
    return Connection(region=region, host=host)


def transaction() -> TransactWrite:
    """A transaction on the table `bind_table` pointed the records at."""
    return TransactWrite(connection=_connection(CashlineItem.Meta.region, CashlineItem.Meta.host))
