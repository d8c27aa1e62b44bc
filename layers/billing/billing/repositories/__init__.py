"""DynamoDB repositories: the only code that knows table keys (built in ``keys``)."""
