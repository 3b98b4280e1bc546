"""Bank reconciliation: accounts, statement imports, matching bank lines to the books, the queue a
person works, and the reconciliation report."""
