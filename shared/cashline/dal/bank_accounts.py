"""Bank accounts in DynamoDB: the account item, the claim on its identification (IBAN or other:
one account per identification and tenant, and how a statement's account is found) and the claim
on the operating account of a currency. Part of `BankRepository` (dal.bank_repository)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from pynamodb.transactions import TransactWrite

from cashline.dal.bank_codec import (
    account_record,
    get_or_not_found,
    set_or_remove,
    to_account,
)
from cashline.dal.bank_records import (
    ACCOUNT_ID_SCOPE,
    ACCOUNT_SK,
    OPERATING_SCOPE,
    BankAccountBalance,
    BankAccountRecord,
    account_pk,
    compact_identification,
)
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.party_records import UNIQUE_SK, UniqueRecord, unique_pk
from cashline.dal.party_repository import claimed_by, unique_record
from cashline.dal.transactions import UnitOfWork
from cashline.domain.bank.reconciliation import (
    BankAccount,
)
from cashline.errors import ConflictError

# What a PATCH of an account may change (its balance is the statements', its claims are moved apart).
_ACCOUNT_EDITABLE = ("name", "bic", "operating", "csv_mapping", "updated_at")


class BankAccountStore:
    # ------------------------------------------------------------------ accounts
    def create_account(self, account: BankAccount) -> BankAccount:
        """Put the account, its identification claim (and the operating claim when operating) in one
        transaction. ConflictError(details={"existing_id": ...}) when the identification (field
        "iban"/"account") or the currency's operating account (field "operating") is taken."""
        t, ba, now = account.tenant_id, account.bank_account_id, account.created_at
        claims = []
        if account.identification:
            claims.append(
                unique_record(t, ACCOUNT_ID_SCOPE, compact_identification(account.identification), ba, now)
            )
        if account.operating:
            claims.append(unique_record(t, OPERATING_SCOPE, account.currency, ba, now))

        def stage(write: TransactWrite) -> None:
            write.save(account_record(account), condition=BankAccountRecord.pk.does_not_exist())
            for claim in claims:
                write.save(claim, condition=UniqueRecord.pk.does_not_exist())

        try:
            UnitOfWork("bank account conflicts with an existing one").add(stage).commit()
        except ConflictError:
            raise self._which_conflict(account, claimed=(ACCOUNT_ID_SCOPE, OPERATING_SCOPE)) from None
        return replace(account, version=1)

    @staticmethod
    def _which_conflict(account: BankAccount, *, claimed: tuple[str, ...]) -> ConflictError:
        """Which of the claims this write took is held by another account; else a version conflict."""
        t = account.tenant_id
        if ACCOUNT_ID_SCOPE in claimed and account.identification:
            holder = claimed_by(t, ACCOUNT_ID_SCOPE, compact_identification(account.identification))
            if holder and holder != account.bank_account_id:
                return ConflictError(
                    "a bank account with this identification exists",
                    field="iban" if account.iban else "account",
                    details={"existing_id": holder},
                )
        if OPERATING_SCOPE in claimed and account.operating:
            holder = claimed_by(t, OPERATING_SCOPE, account.currency)
            if holder and holder != account.bank_account_id:
                return ConflictError(
                    f"another bank account is the operating account for {account.currency}",
                    field="operating",
                    details={"existing_id": holder},
                )
        return ConflictError("bank account was changed at the same time; read it again", field="version")

    def get_account(self, tenant_id: str, bank_account_id: str) -> BankAccount:
        pk = account_pk(tenant_id, bank_account_id)
        return to_account(
            get_or_not_found(BankAccountRecord, pk, ACCOUNT_SK, "bank account", "bank_account_id")
        )

    def account_by_identification(self, tenant_id: str, identification: str) -> BankAccount | None:
        """The account holding this IBAN / other identification (GetItem on the claim, then GetItem)."""
        holder = claimed_by(tenant_id, ACCOUNT_ID_SCOPE, compact_identification(identification))
        return self.get_account(tenant_id, holder) if holder else None

    def list_accounts(self, tenant_id: str, *, limit: int, starting_after: str | None) -> Page[BankAccount]:
        """By name: one Query on gsi1 `T#<t>#BA`."""
        partition = f"T#{tenant_id}#BA"
        start = decode_cursor(starting_after, partition_attr="gsi1pk", partition_value=partition)
        results = BankAccountRecord.gsi1.query(
            partition, limit=limit, page_size=limit, last_evaluated_key=start
        )
        items = [to_account(r) for r in results if isinstance(r, BankAccountRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    def update_account(self, before: BankAccount, after: BankAccount) -> BankAccount:
        """Save the editable fields of `after` on `before.version` (the balance is left to statements);
        move the operating claim when `operating` changes. ConflictError as in create_account."""
        t, ba, now = after.tenant_id, after.bank_account_id, after.updated_at
        new = account_record(after)
        record = BankAccountRecord(pk=new.pk, sk=ACCOUNT_SK)
        record.version = before.version
        r = BankAccountRecord
        actions = [set_or_remove(getattr(r, name), getattr(new, name)) for name in _ACCOUNT_EDITABLE]
        actions += [r.gsi1sk.set(new.gsi1sk)]

        def stage(write: TransactWrite) -> None:
            write.update(record, actions=actions, condition=r.pk.exists())
            if before.operating and not after.operating:
                write.delete(UniqueRecord(pk=unique_pk(t, OPERATING_SCOPE, before.currency), sk=UNIQUE_SK))
            if after.operating and not before.operating:
                claim = unique_record(t, OPERATING_SCOPE, after.currency, ba, now)
                write.save(claim, condition=UniqueRecord.pk.does_not_exist())

        try:
            UnitOfWork("bank account was changed by someone else; read it again").add(stage).commit()
        except ConflictError:
            claimed = (OPERATING_SCOPE,) if after.operating and not before.operating else ()
            raise self._which_conflict(after, claimed=claimed) from None
        return self.get_account(t, ba)

    def stage_account_balance(
        self, write: TransactWrite, account: BankAccount, balance: int, balance_date: date, now: datetime
    ) -> None:
        """Set the closing balance unless a later one is stored. Stage it only when `balance_date` is
        not before `account.balance_date`: the condition is for a race (two imports at once), and a
        failed condition fails the whole unit of work (read again, retry). No version bump: a PATCH of
        the name at the same time does not conflict with an import."""
        r = BankAccountBalance
        item = BankAccountBalance(pk=account_pk(account.tenant_id, account.bank_account_id), sk=ACCOUNT_SK)
        day = balance_date.isoformat()
        write.update(
            item,
            actions=[r.balance.set(balance), r.balance_date.set(day), r.updated_at.set(now)],
            condition=r.pk.exists() & (r.balance_date.does_not_exist() | (r.balance_date <= day)),
        )
