"""Subscription billing use cases: catalog, subscriptions, issuing, finalising, delivery, charging."""
