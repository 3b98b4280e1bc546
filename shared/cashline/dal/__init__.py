"""Data access: PynamoDB records and the repositories that turn them into domain objects."""
