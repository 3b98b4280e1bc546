"""Use cases: one function each, orchestrating domain rules, repositories and adapters."""
