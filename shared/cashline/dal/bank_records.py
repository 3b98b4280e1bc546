"""Records of bank reconciliation: accounts, statement imports, statements, bank transactions (one
per bank line), discrepancies, the per-day reconciliation totals, the tenant's reconciliation
settings, and the lookups matching reads (a counterparty by IBAN, a learned remittance pattern).

Keys (docs/data-model.md, "Bank reconciliation"):
- a bank account `T#<t>#BA#<ba>` / `BA`; a statement import `T#<t>#BSI#<bsi>` / `BSI`; a statement
  `T#<t>#BST#<bst>` / `BST`; a bank transaction `T#<t>#BTX#<btx>` / `BTX`; a discrepancy
  `T#<t>#BDC#<bdc>` / `BDC`; a payment's NOT_IN_BANK discrepancy `T#<t>#BDCPAY#<pay>` / `BDCPAY`;
- claims (the account's identification, the operating account per currency, a statement, a bank
  line) are `UniqueRecord`s `T#<t>#UNIQ#<scope>#<value>` / `UNIQ` (dal.party_records);
- a counterparty's IBAN `T#<t>#CPIBAN#<iban>` / `<counterparty>` (several counterparties may share
  one IBAN: a Query tells whether exactly one does); a learned pattern `T#<t>#LEARN#<key>` / `LEARN`;
- day totals `T#<t>#RECON#<ba>` / `<day>#<currency>` (ADD only); settings `T#<t>` / `RECSET`.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from cashline.dal.table import CashlineItem
from cashline.domain.bank.reconciliation import DiscrepancyKind

ACCOUNT_SK = "BA"
IMPORT_SK = "BSI"
STATEMENT_SK = "BST"
TRANSACTION_SK = "BTX"
DISCREPANCY_SK = "BDC"
DISCREPANCY_OF_PAYMENT_SK = "BDCPAY"
LEARNED_SK = "LEARN"
SETTINGS_SK = "RECSET"

# Claim scopes (UniqueRecord `T#<t>#UNIQ#<scope>#<value>`).
ACCOUNT_ID_SCOPE = "BAID"  # value: the IBAN or other identification, upper case, no spaces
OPERATING_SCOPE = "BAOPER"  # value: the currency (one operating account per currency)
STATEMENT_SCOPE = "BSTMT"  # value: `<ba>#<kind>#<statement key>`
LINE_SCOPE = "BLINE"  # value: `<ba>#<fingerprint>`


def account_pk(tenant_id: str, bank_account_id: str) -> str:
    return f"T#{tenant_id}#BA#{bank_account_id}"


def import_pk(tenant_id: str, import_id: str) -> str:
    return f"T#{tenant_id}#BSI#{import_id}"


def statement_pk(tenant_id: str, statement_id: str) -> str:
    return f"T#{tenant_id}#BST#{statement_id}"


def transaction_pk(tenant_id: str, transaction_id: str) -> str:
    return f"T#{tenant_id}#BTX#{transaction_id}"


def discrepancy_pk(tenant_id: str, discrepancy_id: str) -> str:
    return f"T#{tenant_id}#BDC#{discrepancy_id}"


def discrepancy_of_payment_pk(tenant_id: str, payment_id: str) -> str:
    return f"T#{tenant_id}#BDCPAY#{payment_id}"


def counterparty_iban_pk(tenant_id: str, iban: str) -> str:
    return f"T#{tenant_id}#CPIBAN#{compact_identification(iban)}"


def learned_pk(tenant_id: str, remittance_key: str) -> str:
    return f"T#{tenant_id}#LEARN#{remittance_key}"


def totals_pk(tenant_id: str, bank_account_id: str) -> str:
    return f"T#{tenant_id}#RECON#{bank_account_id}"


def settings_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}"


def compact_identification(value: str) -> str:
    """An IBAN or account number as claims and lookups key it: upper case, no spaces
    ("de89 3704 0044 0532 0130 00" -> "DE89370400440532013000")."""
    return "".join(value.split()).upper()


class BankAccountRecord(CashlineItem, discriminator="bank_account"):
    """A `BankAccount` field by field (dal.record_fields)."""

    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    bank_account_id = UnicodeAttribute()
    name = UnicodeAttribute()
    currency = UnicodeAttribute()
    iban = UnicodeAttribute(null=True)
    account_other = UnicodeAttribute(null=True)
    bic = UnicodeAttribute(null=True)
    operating = BooleanAttribute()
    csv_mapping = JSONAttribute(null=True)
    created_from_file = BooleanAttribute()
    balance = NumberAttribute(null=True)
    balance_date = UnicodeAttribute(null=True)


class BankAccountBalance(CashlineItem, discriminator="bank_account_balance"):
    """The balance attributes of a bank account's item, written without its version: a statement's
    closing balance must not make a person's PATCH of the name fail, nor the PATCH the import. Only
    ever used to update a BankAccountRecord item (it never writes its own `kind`)."""

    balance = NumberAttribute(null=True)
    balance_date = UnicodeAttribute(null=True)


class StatementImportRecord(CashlineItem, discriminator="bank_import"):
    """One uploaded file: what it was and which statements it made. Written once."""

    tenant_id = UnicodeAttribute()
    import_id = UnicodeAttribute()
    format = UnicodeAttribute()
    sha256 = UnicodeAttribute()
    statement_ids = ListAttribute(of=UnicodeAttribute)


class BankStatementRecord(CashlineItem, discriminator="bank_statement"):
    """A `StoredStatement`; its `kind` is stored as `report_kind` (`kind` names the record type).
    `matched`/`unmatched` change only by ADD, so the record has no version."""

    tenant_id = UnicodeAttribute()
    statement_id = UnicodeAttribute()
    import_id = UnicodeAttribute()
    bank_account_id = UnicodeAttribute()
    account = UnicodeAttribute()
    format = UnicodeAttribute()
    report_kind = UnicodeAttribute()
    currency = UnicodeAttribute()
    bank_statement_id = UnicodeAttribute(null=True)
    sequence = UnicodeAttribute(null=True)
    from_date = UnicodeAttribute(null=True)
    to_date = UnicodeAttribute(null=True)
    opening_balance = NumberAttribute(null=True)
    closing_balance = NumberAttribute(null=True)
    transaction_count = NumberAttribute()
    duplicate_lines = NumberAttribute()
    credits_total = NumberAttribute()
    debits_total = NumberAttribute()
    balanced = BooleanAttribute(null=True)
    matched = NumberAttribute(default=0)
    unmatched = NumberAttribute(default=0)


class BankTransactionRecord(CashlineItem, discriminator="bank_transaction"):
    """A `BankTransaction`: the bank's facts field by field, what Cashline made of it (proposals, the
    match, discrepancies, history) as JSON. Versioned: every status change is on the version read."""

    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    transaction_id = UnicodeAttribute()
    bank_account_id = UnicodeAttribute()
    statement_id = UnicodeAttribute()
    import_id = UnicodeAttribute()
    fingerprint = UnicodeAttribute()
    line_number = NumberAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    direction = UnicodeAttribute()
    booking_date = UnicodeAttribute()
    value_date = UnicodeAttribute(null=True)
    entry_status = UnicodeAttribute()
    reversal = BooleanAttribute()
    bank_reference = UnicodeAttribute(null=True)
    end_to_end_id = UnicodeAttribute(null=True)
    mandate_id = UnicodeAttribute(null=True)
    creditor_reference = UnicodeAttribute(null=True)
    remittance = UnicodeAttribute(null=True)  # DynamoDB refuses an empty string in some contexts
    counterparty_name = UnicodeAttribute(null=True)
    counterparty_iban = UnicodeAttribute(null=True)
    counterparty_account = UnicodeAttribute(null=True)
    counterparty_bic = UnicodeAttribute(null=True)
    transaction_code = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    proposals = JSONAttribute(null=True)
    match = JSONAttribute(null=True)
    matched_by = UnicodeAttribute(null=True)
    payment_ids = ListAttribute(of=UnicodeAttribute, null=True)
    reconciled_payment_ids = ListAttribute(of=UnicodeAttribute, null=True)  # of payment_ids
    ignore_reason = UnicodeAttribute(null=True)
    discrepancies = JSONAttribute(null=True)
    discrepancy_ids = ListAttribute(of=UnicodeAttribute, null=True)
    history = JSONAttribute(null=True)


class CounterpartyIbanRecord(CashlineItem, discriminator="counterparty_iban"):
    """Names a counterparty that pays from (or is paid to) this IBAN: from its profile, or confirmed
    by a person in the reconciliation queue. Put again unchanged is harmless (no condition)."""

    counterparty_id = UnicodeAttribute()
    source = UnicodeAttribute(default="profile")  # profile | learned


class LearnedPatternRecord(CashlineItem, discriminator="bank_learned"):
    """A remittance pattern a person matched to a counterparty; the latest confirmation wins."""

    counterparty_id = UnicodeAttribute()


class DiscrepancyRecord(CashlineItem, discriminator="bank_discrepancy"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    discrepancy_id = UnicodeAttribute()
    bank_account_id = UnicodeAttribute(null=True)
    bank_transaction_id = UnicodeAttribute(null=True)
    payment_id = UnicodeAttribute(null=True)
    discrepancy = JSONAttribute()
    status = UnicodeAttribute()  # open | resolved
    resolved_at = UTCDateTimeAttribute(null=True)
    resolved_by = UnicodeAttribute(null=True)  # who resolved (or unmatched the line), or "auto"
    note = UnicodeAttribute(null=True)


class DiscrepancyOfPaymentRecord(CashlineItem, discriminator="bank_discrepancy_of_payment"):
    """Names the NOT_IN_BANK discrepancy of a payment (`T#<t>#BDCPAY#<pay>` / `BDCPAY`), written with
    it: a bank line matched to the payment later resolves it in its own transaction (one GetItem
    finds it). Put unconditionally: a payment flagged again (unmatched, then overdue again) names its
    newest one."""

    discrepancy_id = UnicodeAttribute()


# Counters of one account's day in one currency. Every one is changed by ADD only, in the same
# transaction as the change it counts, so concurrent writers never lose an increment.
BASE_COUNTERS = (
    "lines",
    "credit_amount",
    "debit_amount",
    "auto_count",
    "auto_amount",
    "person_count",
    "person_amount",
    "ignored_count",
    "ignored_amount",
    "open_count",
    "open_amount",
)
DISCREPANCY_COUNTERS = tuple(
    f"disc_{kind.value}_{part}" for kind in DiscrepancyKind for part in ("count", "amount")
)
TOTALS_COUNTERS = BASE_COUNTERS + DISCREPANCY_COUNTERS


class ReconciliationTotalsRecord(CashlineItem, discriminator="bank_day_totals"):
    """Declares every counter of TOTALS_COUNTERS (test_bank_repository checks the two agree)."""

    bank_account_id = UnicodeAttribute()
    day = UnicodeAttribute()
    currency = UnicodeAttribute()
    lines = NumberAttribute(null=True)
    credit_amount = NumberAttribute(null=True)
    debit_amount = NumberAttribute(null=True)
    auto_count = NumberAttribute(null=True)
    auto_amount = NumberAttribute(null=True)
    person_count = NumberAttribute(null=True)
    person_amount = NumberAttribute(null=True)
    ignored_count = NumberAttribute(null=True)
    ignored_amount = NumberAttribute(null=True)
    open_count = NumberAttribute(null=True)
    open_amount = NumberAttribute(null=True)
    disc_underpaid_count = NumberAttribute(null=True)
    disc_underpaid_amount = NumberAttribute(null=True)
    disc_overpaid_count = NumberAttribute(null=True)
    disc_overpaid_amount = NumberAttribute(null=True)
    disc_payout_mismatch_count = NumberAttribute(null=True)
    disc_payout_mismatch_amount = NumberAttribute(null=True)
    disc_not_in_bank_count = NumberAttribute(null=True)
    disc_not_in_bank_amount = NumberAttribute(null=True)
    disc_duplicate_count = NumberAttribute(null=True)
    disc_duplicate_amount = NumberAttribute(null=True)


class ReconciliationSettingsRecord(CashlineItem, discriminator="reconciliation_settings"):
    version = VersionAttribute()
    auto_match_threshold = NumberAttribute()
    not_in_bank_days = NumberAttribute()
