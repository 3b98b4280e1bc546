"""One unit of work: a multi-item change written in one DynamoDB transaction (TransactWriteItems, up
to 100 items) or not at all.

Repositories expose `stage_*` functions that add their items to a transaction; a service composes a
change from as many of them as it needs and commits once:

    work = UnitOfWork("payment or invoice changed at the same time")
    work.add(lambda write: payments.stage(write, payment_writes))
    work.add(lambda write: alerts.stage(write, alert))
    work.commit()  # ConflictError if any condition failed; nothing written then

A repository's own `commit` for a change of its entities alone is the same thing with one stage.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from cashline.dal.errors import storage_errors
from cashline.dal.table import CashlineItem

Stage = Callable[[TransactWrite], None]


@lru_cache(maxsize=4)
def _connection(region: str | None, host: str | None) -> Connection:
    return Connection(region=region, host=host)


class _SkipsEmpty(TransactWrite):
    """DynamoDB refuses a TransactWriteItems of no items (a ValidationException nothing maps): a
    change whose stages all turned out to have nothing to write commits nothing instead."""

    def _commit(self) -> Any:
        if not (self._put_items or self._update_items or self._delete_items or self._condition_check_items):
            return None
        return super()._commit()


def transaction() -> TransactWrite:
    """A transaction on the table `bind_table` pointed the records at."""
    return _SkipsEmpty(connection=_connection(CashlineItem.Meta.region, CashlineItem.Meta.host))


class UnitOfWork:
    """Stages from several repositories, written together in one transaction on `commit`."""

    def __init__(self, conflict_message: str) -> None:
        self.conflict_message = conflict_message
        self._stages: list[Stage] = []

    def add(self, stage: Stage | None) -> UnitOfWork:
        """Add a stage (None adds nothing, so optional parts need no `if`)."""
        if stage is not None:
            self._stages.append(stage)
        return self

    def commit(self) -> None:
        """Write every stage or none: a failed condition raises ConflictError, throttling
        DependencyUnavailableError (dal.errors)."""
        with storage_errors(self.conflict_message), transaction() as write:
            for stage in self._stages:
                stage(write)
