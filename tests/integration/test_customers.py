"""Customers through the api function, against DynamoDB Local."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest

from billing import clock

pytestmark = pytest.mark.integration


def uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def make(call, admin_key):
    def _make(**fields):
        body = {"name": "Acme", "currency": "usd", **fields}
        status, _, created = call("POST", "/v1/customers", key=admin_key, json_body=body)
        assert status == 201, created
        return created

    return _make


@pytest.fixture
def repo(app_env):
    from billing.repositories.customers import CustomerRepository

    return CustomerRepository(table_name=app_env["BILLING_TABLE"])


@pytest.fixture
def table(app_env):
    import boto3

    return boto3.resource("dynamodb").Table(app_env["BILLING_TABLE"])


@pytest.fixture
def frozen():
    frozen_clock = clock.FrozenClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    previous = clock.set_clock(frozen_clock)
    yield frozen_clock
    clock.set_clock(previous)


def test_create_normalizes_and_returns_a_response_model(call, admin_key):
    ext = f"crm-{uid()}"
    body = {
        "external_id": ext,
        "name": "  Müller & Söhne GmbH ",
        "emails": ["Billing@Mueller.example", "cfo@mueller.example"],
        "address": {"country": "de", "postal_code": "10115", "city": "Berlin", "line1": "Hauptstr. 1"},
        "tax_ids": [{"type": "eu_vat", "value": "de 123.456.789"}],
        "tax_status": "reverse_charge",
        "currency": "EUR",
        "time_zone": "Europe/Berlin",
        "locale": "de-DE",
        "segments": ["eu", "enterprise"],
        "metadata": {"crm": "hubspot"},
    }
    status, _, c = call("POST", "/v1/customers", key=admin_key, json_body=body)
    assert status == 201, c
    assert c["object"] == "customer"
    assert c["id"].startswith("cus_") and len(c["id"]) == 20
    assert c["name"] == "Müller & Söhne GmbH"
    assert c["emails"] == ["billing@mueller.example", "cfo@mueller.example"]
    assert c["address"]["country"] == "DE"
    assert c["tax_ids"] == [{"type": "eu_vat", "value": "DE123456789", "country": "DE"}]
    assert c["currency"] == "eur"
    assert c["locale"] == "de_DE"
    assert c["invoice_prefix"].startswith("MUL") and 3 <= len(c["invoice_prefix"]) <= 8
    assert c["version"] == 1 and c["deleted"] is False and c["open_invoices"] == 0
    assert not {"pk", "sk", "gsi1pk", "type"} & set(c)


def test_get_by_id_and_by_external_id(call, admin_key, make):
    ext = f"ext-{uid()}"
    created = make(external_id=ext)
    for ref in (created["id"], ext):
        status, _, got = call("GET", f"/v1/customers/{ref}", key=admin_key)
        assert status == 200 and got["id"] == created["id"]
    status, _, body = call("GET", "/v1/customers/nobody-here", key=admin_key)
    assert status == 404 and body["error"]["code"] == "customer_not_found"
    status, _, body = call("GET", "/v1/customers/cus_0123456789abcdef", key=admin_key)
    assert status == 404


def test_external_id_is_unique(call, admin_key, make):
    ext = f"dup-{uid()}"
    make(external_id=ext)
    status, _, body = call(
        "POST", "/v1/customers", key=admin_key, json_body={"name": "B", "currency": "usd", "external_id": ext}
    )
    assert status == 409
    assert body["error"] == {**body["error"], "code": "external_id_taken", "param": "external_id"}


def test_invoice_prefix_is_unique_and_generated_ones_differ(call, admin_key, make):
    prefix = uid()[:6].upper().replace("-", "X")
    make(invoice_prefix=prefix)
    status, _, body = call(
        "POST",
        "/v1/customers",
        key=admin_key,
        json_body={"name": "B", "currency": "usd", "invoice_prefix": prefix.lower()},
    )
    assert (
        status == 409
        and body["error"]["code"] == "invoice_prefix_taken"
        and body["error"]["param"] == "invoice_prefix"
    )
    prefixes = {make(name="Same Name")["invoice_prefix"] for _ in range(5)}
    assert len(prefixes) == 5 and all(p.startswith("SAM") for p in prefixes)


def test_list_pagination_walks_every_customer_newest_first(call, admin_key, make):
    segment = f"page-{uid()}"
    ids = [make(segments=[segment])["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        path = f"/v1/customers?limit=2&segment={segment}" + (f"&starting_after={cursor}" if cursor else "")
        status, _, page = call("GET", path, key=admin_key)
        assert status == 200 and len(page["data"]) <= 2
        seen += [c["id"] for c in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == list(reversed(ids))


def test_list_unfiltered_paginates_without_duplicates(call, admin_key, make):
    for _ in range(3):
        make()
    seen, cursor, pages = [], None, 0
    while pages < 200:
        path = "/v1/customers?limit=7" + (f"&starting_after={cursor}" if cursor else "")
        status, _, page = call("GET", path, key=admin_key)
        assert status == 200
        seen += [c["id"] for c in page["data"]]
        pages += 1
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) >= 3


def test_filter_by_email_segment_and_created_range(call, admin_key, make, frozen):
    email = f"ap-{uid()}@example.com"
    segment = f"seg-{uid()}"
    frozen.current = datetime(2026, 1, 10, tzinfo=UTC)
    jan = make(emails=[email], segments=[segment])
    frozen.current = datetime(2026, 2, 10, tzinfo=UTC)
    feb = make(emails=[f"other-{uid()}@example.com"], segments=[segment])
    frozen.current = datetime(2026, 3, 10, tzinfo=UTC)
    mar = make(emails=[email.upper()])

    def ids(query: str) -> list[str]:
        status, _, page = call("GET", f"/v1/customers?limit=100&{query}", key=admin_key)
        assert status == 200, page
        return [c["id"] for c in page["data"]]

    assert ids(f"email={email}") == [mar["id"], jan["id"]]
    assert ids(f"segment={segment}") == [feb["id"], jan["id"]]
    assert ids(f"email={email}&segment={segment}") == [jan["id"]]
    assert ids(f"segment={segment}&created_gte=2026-02-01T00:00:00Z") == [feb["id"]]
    assert ids(f"segment={segment}&created_lt=2026-02-10T00:00:00Z") == [jan["id"]]  # lt excludes the instant
    assert ids(f"email={email}&created_gte=2026-01-01T00:00:00Z&created_lt=2026-03-01T00:00:00Z") == [
        jan["id"]
    ]
    in_range = ids("created_gte=2026-02-10T00:00:00Z&created_lt=2026-02-10T00:00:01Z")
    assert feb["id"] in in_range and jan["id"] not in in_range and mar["id"] not in in_range


def test_patch_changes_given_fields_and_versions(call, admin_key, make):
    c = make(emails=["a@example.com"], metadata={"keep": "1", "drop": "2"}, segments=["s1"])
    status, _, p = call(
        "PATCH",
        f"/v1/customers/{c['id']}",
        key=admin_key,
        json_body={
            "name": "Acme Inc",
            "emails": ["b@example.com"],
            "metadata": {"drop": "", "new": "3"},
            "segments": [],
        },
    )
    assert status == 200, p
    assert p["name"] == "Acme Inc" and p["emails"] == ["b@example.com"] and p["segments"] == []
    assert p["metadata"] == {"keep": "1", "new": "3"}
    assert p["version"] == 2 and p["currency"] == c["currency"] and p["invoice_prefix"] == c["invoice_prefix"]
    # entries moved with the change
    status, _, page = call("GET", "/v1/customers?email=a@example.com&limit=100", key=admin_key)
    assert c["id"] not in [x["id"] for x in page["data"]]
    status, _, page = call("GET", "/v1/customers?email=b@example.com&limit=100", key=admin_key)
    assert c["id"] in [x["id"] for x in page["data"]]
    # no change, no new version
    status, _, same = call("PATCH", f"/v1/customers/{c['id']}", key=admin_key, json_body={"name": "Acme Inc"})
    assert status == 200 and same["version"] == 2


def test_patch_moves_the_external_id_guard(call, admin_key, make):
    old, new = f"old-{uid()}", f"new-{uid()}"
    c = make(external_id=old)
    status, _, p = call("PATCH", f"/v1/customers/{old}", key=admin_key, json_body={"external_id": new})
    assert status == 200 and p["external_id"] == new
    assert call("GET", f"/v1/customers/{old}", key=admin_key)[0] == 404
    assert call("GET", f"/v1/customers/{new}", key=admin_key)[2]["id"] == c["id"]
    other = make(external_id=old)  # the old one is free again
    status, _, body = call(
        "PATCH", f"/v1/customers/{other['id']}", key=admin_key, json_body={"external_id": new}
    )
    assert status == 409 and body["error"]["code"] == "external_id_taken"
    status, _, cleared = call("PATCH", f"/v1/customers/{new}", key=admin_key, json_body={"external_id": None})
    assert status == 200 and cleared["external_id"] is None
    assert call("GET", f"/v1/customers/{new}", key=admin_key)[0] == 404


def test_patch_invoice_prefix_keeps_the_old_one_reserved(call, admin_key, make, repo):
    first, second = ("P" + uid()[:6]).upper(), ("Q" + uid()[:6]).upper()
    c = make(invoice_prefix=first)
    status, _, p = call(
        "PATCH", f"/v1/customers/{c['id']}", key=admin_key, json_body={"invoice_prefix": second}
    )
    assert status == 200 and p["invoice_prefix"] == second
    status, _, body = call(
        "POST",
        "/v1/customers",
        key=admin_key,
        json_body={"name": "X", "currency": "usd", "invoice_prefix": first},
    )
    assert status == 409 and body["error"]["code"] == "invoice_prefix_taken"
    assert repo.prefix_owner(first) == c["id"]
    status, _, back = call(
        "PATCH", f"/v1/customers/{c['id']}", key=admin_key, json_body={"invoice_prefix": first}
    )
    assert status == 200 and back["invoice_prefix"] == first  # its own former prefix


def test_stale_update_is_a_concurrent_update_conflict(make, repo):
    from billing.errors import Conflict
    from billing.services.customers import update_customer

    c = make()
    stale = repo.get(c["id"])
    update_customer(repo, c["id"], {"name": "First writer"}, actor="tests")
    newer = stale.model_copy(update={"name": "Second writer", "version": stale.version + 1})
    with pytest.raises(Conflict) as err:
        repo.update(stale, newer)
    assert err.value.code == "concurrent_update"
    assert repo.get(c["id"]).name == "First writer"


def test_delete_is_soft_and_releases_the_external_id(call, admin_key, make):
    ext = f"del-{uid()}"
    segment = f"del-{uid()}"
    c = make(external_id=ext, segments=[segment])
    status, _, d = call("DELETE", f"/v1/customers/{ext}", key=admin_key)
    assert status == 200 and d["deleted"] is True and d["deleted_at"]
    status, _, got = call("GET", f"/v1/customers/{c['id']}", key=admin_key)
    assert status == 200 and got["deleted"] is True  # invoices still reference it
    assert call("GET", f"/v1/customers/{ext}", key=admin_key)[0] == 404
    status, _, page = call("GET", f"/v1/customers?segment={segment}", key=admin_key)
    assert page["data"] == []
    status, _, body = call("PATCH", f"/v1/customers/{c['id']}", key=admin_key, json_body={"name": "x"})
    assert status == 409 and body["error"]["code"] == "customer_deleted"
    status, _, body = call("DELETE", f"/v1/customers/{c['id']}", key=admin_key)
    assert status == 404 and body["error"]["code"] == "customer_not_found"
    assert make(external_id=ext)["id"] != c["id"]


def test_customer_with_open_invoices_cannot_be_deleted(call, admin_key, make, repo):
    c = make()
    repo.adjust_open_invoices(c["id"], +1)
    status, _, body = call("DELETE", f"/v1/customers/{c['id']}", key=admin_key)
    assert status == 409 and body["error"]["code"] == "customer_has_open_invoices"
    assert call("GET", f"/v1/customers/{c['id']}", key=admin_key)[2]["open_invoices"] == 1
    repo.adjust_open_invoices(c["id"], -1)
    assert call("DELETE", f"/v1/customers/{c['id']}", key=admin_key)[0] == 200


def test_an_invoice_opened_during_the_delete_wins(make, repo):
    from billing.errors import Conflict

    c = make()
    read = repo.get(c["id"])
    repo.adjust_open_invoices(c["id"], +1)  # after the read, before the write
    with pytest.raises(Conflict):
        repo.delete(read, at=clock.now())
    assert repo.get(c["id"]).deleted is False


def _race(n, work):
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_creates_with_one_external_id_exactly_one_wins(repo, table):
    from boto3.dynamodb.conditions import Attr

    from billing.errors import Conflict
    from billing.services.customers import create_customer

    ext = f"race-{uid()}"
    results = _race(
        8, lambda i: create_customer(repo, {"name": f"Racer {i}", "currency": "usd", "external_id": ext})
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(e, Conflict) and e.code == "external_id_taken" for e in losers), losers
    stored = table.scan(FilterExpression=Attr("external_id").eq(ext) & Attr("type").eq("customer"))["Items"]
    assert [i["id"] for i in stored] == [winners[0].id]  # the losers wrote nothing
    assert repo.get_by_external_id(ext).id == winners[0].id


def test_concurrent_creates_with_one_invoice_prefix_exactly_one_wins(repo):
    from billing.errors import Conflict
    from billing.services.customers import create_customer

    prefix = ("R" + uid()[:7]).upper()
    results = _race(
        6, lambda i: create_customer(repo, {"name": "R", "currency": "usd", "invoice_prefix": prefix})
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(r.code == "invoice_prefix_taken" for r in results if isinstance(r, Conflict))


def test_roles(call, admin_key, make):
    c = make()
    _, _, ro = call("POST", "/v1/api-keys", key=admin_key, json_body={"name": "ro", "role": "read_only"})
    _, _, usage = call("POST", "/v1/api-keys", key=admin_key, json_body={"name": "u", "role": "usage"})
    _, _, billing = call("POST", "/v1/api-keys", key=admin_key, json_body={"name": "b", "role": "billing"})
    assert call("GET", f"/v1/customers/{c['id']}", key=ro["key"])[0] == 200
    status, _, body = call("POST", "/v1/customers", key=ro["key"], json_body={"name": "x", "currency": "usd"})
    assert status == 403 and body["error"]["code"] == "insufficient_role"
    assert call("DELETE", f"/v1/customers/{c['id']}", key=ro["key"])[0] == 403
    assert call("GET", "/v1/customers", key=usage["key"])[0] == 403
    assert (
        call("POST", "/v1/customers", key=billing["key"], json_body={"name": "x", "currency": "usd"})[0]
        == 201
    )


def test_idempotency_key_creates_once(call, admin_key):
    headers = {"idempotency-key": f"cust-{uid()}"}
    body = {"name": "Once", "currency": "usd"}
    s1, _, first = call("POST", "/v1/customers", key=admin_key, json_body=body, headers=headers)
    s2, h2, second = call("POST", "/v1/customers", key=admin_key, json_body=body, headers=headers)
    assert s1 == s2 == 201 and first["id"] == second["id"] and h2.get("idempotent-replayed") == "true"


BASE = {"name": "Acme", "currency": "usd"}


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"currency": "usd"}, "missing_field", "name"),
        ({"name": "x"}, "missing_field", "currency"),
        ({**BASE, "name": ""}, "too_short", "name"),
        ({**BASE, "name": "   "}, "too_short", "name"),
        ({**BASE, "name": 5}, "invalid_type", "name"),
        ({**BASE, "nickname": "x"}, "unknown_field", "nickname"),
        ({**BASE, "currency": "xyz"}, "unknown_currency", "currency"),
        ({**BASE, "currency": "dollars"}, "unknown_currency", "currency"),
        ({**BASE, "time_zone": "Mars/Olympus_Mons"}, "invalid_time_zone", "time_zone"),
        ({**BASE, "time_zone": "../etc/passwd"}, "invalid_time_zone", "time_zone"),
        ({**BASE, "locale": "xx_YY"}, "invalid_locale", "locale"),
        ({**BASE, "locale": "en_ZZ"}, "invalid_locale", "locale"),
        ({**BASE, "external_id": "has space"}, "invalid_external_id", "external_id"),
        ({**BASE, "external_id": "cus_0123456789abcdef"}, "invalid_external_id", "external_id"),
        ({**BASE, "emails": ["ok@example.com", "not-an-email"]}, "invalid_email", "emails.1"),
        ({**BASE, "emails": ["a@example.com", "A@example.com"]}, "duplicate_email", "emails.1"),
        ({**BASE, "emails": [f"u{i}@example.com" for i in range(11)]}, "too_many_items", "emails"),
        ({**BASE, "address": {"country": "XX"}}, "invalid_country", "address.country"),
        ({**BASE, "address": {"country": "Germany"}}, "invalid_country", "address.country"),
        ({**BASE, "address": {"city": "Berlin"}}, "missing_field", "address.country"),
        ({**BASE, "address": {"country": "CA"}}, "missing_field", "address.state"),
        ({**BASE, "address": {"country": "CA", "state": "XX"}}, "invalid_state", "address.state"),
        ({**BASE, "address": {"country": "DE", "zip": "1"}}, "unknown_field", "address.zip"),
        (
            {**BASE, "tax_ids": [{"type": "eu_vat", "value": "DE12345678"}]},
            "invalid_tax_id",
            "tax_ids.0.value",
        ),
        (
            {
                **BASE,
                "tax_ids": [
                    {"type": "gb_vat", "value": "GB123456789"},
                    {"type": "eu_vat", "value": "AT12345678"},
                ],
            },
            "invalid_tax_id",
            "tax_ids.1.value",
        ),
        (
            {**BASE, "tax_ids": [{"type": "au_abn", "value": "51 824 753 557"}]},
            "invalid_tax_id",
            "tax_ids.0.value",
        ),
        ({**BASE, "tax_ids": [{"type": "vat", "value": "DE123456789"}]}, "invalid_value", "tax_ids.0.type"),
        ({**BASE, "tax_ids": [{"type": "eu_vat"}]}, "missing_field", "tax_ids.0.value"),
        (
            {
                **BASE,
                "tax_ids": [
                    {"type": "eu_vat", "value": "DE123456789"},
                    {"type": "eu_vat", "value": "de123456789"},
                ],
            },
            "duplicate_tax_id",
            "tax_ids.1.value",
        ),
        ({**BASE, "tax_status": "free"}, "invalid_value", "tax_status"),
        ({**BASE, "tax_status": "reverse_charge"}, "tax_id_required", "tax_ids"),
        ({**BASE, "invoice_prefix": "AB"}, "invalid_invoice_prefix", "invoice_prefix"),
        ({**BASE, "invoice_prefix": "ABC-1"}, "invalid_invoice_prefix", "invoice_prefix"),
        ({**BASE, "invoice_prefix": "ABCDEFGHI"}, "invalid_invoice_prefix", "invoice_prefix"),
        ({**BASE, "segments": ["ok", "not ok!"]}, "invalid_segment", "segments.1"),
        ({**BASE, "segments": [f"s{i}" for i in range(21)]}, "too_many_items", "segments"),
        ({**BASE, "metadata": {f"k{i}": "v" for i in range(51)}}, "too_many_metadata_keys", "metadata"),
        ({**BASE, "metadata": {"k" * 41: "v"}}, "invalid_metadata_key", "metadata." + "k" * 41),
        ({**BASE, "metadata": {"k": "v" * 501}}, "metadata_value_too_long", "metadata.k"),
        ({**BASE, "metadata": {"k": 1}}, "invalid_type", "metadata.k"),
        ({**BASE, "emails": "a@example.com"}, "invalid_type", "emails"),
    ],
)
def test_bad_create_bodies_name_the_field(call, admin_key, body, code, param):
    status, _, got = call("POST", "/v1/customers", key=admin_key, json_body=body)
    assert status == 422, got
    assert (got["error"]["code"], got["error"]["param"]) == (code, param), got


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"name": None}, "invalid_value", "name"),
        ({"currency": None}, "invalid_value", "currency"),
        ({"tax_status": None}, "invalid_value", "tax_status"),
        ({"id": "cus_x"}, "unknown_field", "id"),
        ({"version": 3}, "unknown_field", "version"),
        ({"open_invoices": 0}, "unknown_field", "open_invoices"),
        (
            {"tax_ids": [{"type": "ch_vat", "value": "CHE-116.281.711 MWST"}]},
            "invalid_tax_id",
            "tax_ids.0.value",
        ),
        ({"time_zone": "Europe/Atlantis"}, "invalid_time_zone", "time_zone"),
    ],
)
def test_bad_patch_bodies_name_the_field(call, admin_key, make, body, code, param):  # noqa: PLR0917
    c = make()
    status, _, got = call("PATCH", f"/v1/customers/{c['id']}", key=admin_key, json_body=body)
    assert status == 422, got
    assert (got["error"]["code"], got["error"]["param"]) == (code, param), got


@pytest.mark.parametrize(
    ("query", "code", "param"),
    [
        ("created_gte=2026-02-01T00:00:00Z&created_lt=2026-01-01T00:00:00Z", "invalid_range", "created_lt"),
        ("created_gte=2026-02-01T00:00:00", "invalid_datetime", "created_gte"),
        ("created_gte=yesterday", "invalid_value", "created_gte"),
        ("email=not-an-email", "invalid_email", "email"),
        ("segment=bad%20segment", "invalid_segment", "segment"),
        ("limit=0", "out_of_range", "limit"),
        ("starting_after=!!", "invalid_cursor", "starting_after"),
    ],
)
def test_bad_list_queries_name_the_parameter(call, admin_key, query, code, param):
    status, _, got = call("GET", f"/v1/customers?{query}", key=admin_key)
    assert status == 422, got
    assert (got["error"]["code"], got["error"]["param"]) == (code, param), got


def test_a_cursor_from_another_list_is_refused(call, admin_key, make):
    segment = f"cur-{uid()}"
    make(segments=[segment])
    make(segments=[segment])
    _, _, page = call("GET", f"/v1/customers?segment={segment}&limit=1", key=admin_key)
    status, _, got = call("GET", f"/v1/customers?limit=1&starting_after={page['next_cursor']}", key=admin_key)
    assert status == 422 and got["error"]["code"] == "invalid_cursor"
