"""The outside world: AWS services and payment processors, each behind a small function or class."""
