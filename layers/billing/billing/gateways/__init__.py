"""Adapters to services outside DynamoDB (S3, SQS, SES; the payment provider later).

Clients are built lazily and cached, never at import time. Endpoints follow the standard
``AWS_ENDPOINT_URL_<SERVICE>`` / ``AWS_ENDPOINT_URL`` variables (the local stack and the tests
point them at moto). Failures worth retrying surface as ``ProviderUnavailable``.
"""
