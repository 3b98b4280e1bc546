"""Processor connections in DynamoDB: `PCONN#<connection>` / `PCONN` (a webhook names the connection
before Cashline knows the tenant), a tenant's connections on gsi1 `T#<tenant>#PCONN`."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from cashline.dal.errors import storage_errors
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.payment_records import CONNECTION_SK, ProcessorConnectionRecord, connection_pk
from cashline.domain.connections import Connection


def connections_partition(tenant_id: str) -> str:
    """gsi1: a tenant's connections."""
    return f"T#{tenant_id}#PCONN"


def _to_connection(r: ProcessorConnectionRecord) -> Connection:
    return Connection(
        tenant_id=r.tenant_id,
        connection_id=r.connection_id,
        provider=r.provider,
        name=r.name,
        status=r.status,
        secret_id=r.secret_id,
        secret_hint=r.secret_hint,
        previous_secret_expires_at=r.previous_secret_expires_at,
        has_api_credentials=r.has_api_credentials == "yes",
        created_at=r.created_at,
        updated_at=r.updated_at,
        version=int(r.version or 0),
    )


class ConnectionRepository:
    def create(self, connection: Connection) -> Connection:
        record = ProcessorConnectionRecord(
            pk=connection_pk(connection.connection_id),
            sk=CONNECTION_SK,
            tenant_id=connection.tenant_id,
            connection_id=connection.connection_id,
            provider=connection.provider,
            name=connection.name,
            status=connection.status,
            secret_id=connection.secret_id,
            secret_hint=connection.secret_hint,
            has_api_credentials="yes" if connection.has_api_credentials else "no",
            created_at=connection.created_at,
            updated_at=connection.updated_at,
            gsi1pk=connections_partition(connection.tenant_id),
            gsi1sk=connection.connection_id,
        )
        with storage_errors("connection exists"):
            record.save(condition=ProcessorConnectionRecord.pk.does_not_exist())
        return _to_connection(record)

    def find(self, connection_id: str) -> Connection | None:
        try:
            return _to_connection(ProcessorConnectionRecord.get(connection_pk(connection_id), CONNECTION_SK))
        except DoesNotExist:
            return None

    def of_tenant(self, tenant_id: str, *, limit: int, starting_after: str | None) -> Page[Connection]:
        partition = connections_partition(tenant_id)
        start = decode_cursor(starting_after, partition_attr="gsi1pk", partition_value=partition)
        results = ProcessorConnectionRecord.gsi1.query(
            partition, limit=limit, page_size=limit, last_evaluated_key=start
        )
        items = [_to_connection(i) for i in results if isinstance(i, ProcessorConnectionRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    def set_secret_hint(
        self, connection_id: str, *, hint: str, previous_expires_at: datetime | None, now: datetime
    ) -> Connection:
        """After a rotation: the new secret's hint and how long the previous one stays valid, written on
        the version read just now."""
        record = ProcessorConnectionRecord.get(
            connection_pk(connection_id), CONNECTION_SK, consistent_read=True
        )
        r = ProcessorConnectionRecord
        with storage_errors("connection changed meanwhile; retry"):
            record.update(
                actions=[
                    r.secret_hint.set(hint),
                    r.previous_secret_expires_at.set(previous_expires_at)
                    if previous_expires_at
                    else r.previous_secret_expires_at.remove(),
                    r.updated_at.set(now),
                ]
            )
        return _to_connection(record)
