"""Payments: every source's event becomes one normalized `Payment`, applied to invoices or
installments by the tenant's rules, exactly once.

Exactly once: each event's effect (payment, allocations, invoices, counterparty totals and credit,
alerts) is one DynamoDB transaction that also claims the event's id (`PEVT`) and, for a new payment,
the source's reference of the money movement (`PAYREF`). The same event delivered again fails the
claim and is a no-op; two events about one money movement (Stripe's payment_intent.succeeded and
invoice.paid, GoCardless's confirmed and paid_out) meet on the reference. Concurrent payments on one
invoice conflict on the invoice's version: the loser reads again and allocates what is left.

One module per concern (this package imports none of them, so a function loads only what it uses):
- `context`: what one use case works with (`Context`), its result (`Outcome`), the retry on conflict,
  and `commit`: the one unit of work, then the cross-entity reactions (services/reactions.py);
- `events`: `process_event` and its dispatch table, one handler per `EventAction`;
- `received`: money received (succeeded, pending, payouts) and how an event becomes a `Payment`;
- `apply`: allocation of a payment to invoices (named, by rule, across currencies);
- `reversal`: money given back (failures, refunds, chargebacks, a dispute won);
- `installments`: a processor's word on a financing installment's debit;
- `manual`: the API's side: record, assign, read;
- `credit`: a payer's credit used by its next invoice;
- `settings`: the tenant's payment settings.
"""
