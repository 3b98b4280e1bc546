"""Subscription billing in plain Python: billing periods from a cycle anchor and exact proration."""
