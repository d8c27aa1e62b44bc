"""Domain models shared by services and repositories (pydantic, immutable)."""
