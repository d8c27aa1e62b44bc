"""The HTTP edge shared by the API functions: resolver, error envelope, auth, idempotency.

Only functions import this package; services and repositories never do.
"""
