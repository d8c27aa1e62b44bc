"""API key parsing and hashing, without storage (a repository stub that holds one key)."""

from __future__ import annotations

import pytest

from billing.models.api_keys import Role
from billing.services import api_keys


class OneKeyRepo:
    def __init__(self):
        self.key = None

    def create(self, key):
        self.key = key

    def get(self, key_id):
        return self.key if self.key and self.key.id == key_id else None


@pytest.fixture
def issued():
    repo = OneKeyRepo()
    key, token = api_keys.create_api_key(repo, name="t", role=Role.BILLING)
    return repo, key, token


def test_token_format_and_hash(issued):
    _, key, token = issued
    assert token.startswith(f"bk_{key.id}_")
    assert key.secret_hash == api_keys.hash_secret(token)
    assert token not in key.model_dump_json()
    assert key.last4 == token[-4:]


def test_authenticate_accepts_bearer_case_insensitively(issued):
    repo, key, token = issued
    assert api_keys.authenticate(repo, f"bearer {token}") == key
    assert api_keys.authenticate(repo, f"Bearer   {token}  ") == key


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic abc", "Bearer", "Bearer bk_short", "Bearer sk_live_123"],
)
def test_authenticate_rejects_malformed(issued, header):
    repo, _, _ = issued
    assert api_keys.authenticate(repo, header) is None


def test_authenticate_rejects_a_wrong_secret_for_a_real_id(issued):
    repo, _, token = issued
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert api_keys.authenticate(repo, f"Bearer {forged}") is None
