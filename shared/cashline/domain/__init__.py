"""Plain-Python domain logic: no boto3, no HTTP, no clock reads."""
