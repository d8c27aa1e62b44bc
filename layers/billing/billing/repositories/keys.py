"""Every key of the single BillingTable is built here and nowhere else.

See docs/data-model.md for the access patterns these keys serve.
"""

from __future__ import annotations

ACCOUNT = "ACCOUNT"


def api_key(key_id: str) -> dict[str, str]:
    """An API key lives in the account partition: GetItem by id, Query to list."""
    return {"pk": ACCOUNT, "sk": f"APIKEY#{key_id}"}


API_KEY_PREFIX = "APIKEY#"


# --------------------------------------------------------------------------- customers
# A customer's partition holds its item and its lookup entries (one per email and per
# segment). Entries are projected onto gsi1 under the looked-up value, sorted by creation.

CUSTOMER_SK = "CUSTOMER"
CUSTOMERS = "CUSTOMERS"
"""gsi1 partition of every live (not deleted) customer, sorted by ``created#id``."""
GUARD_SK = "GUARD"


def customer(customer_id: str) -> dict[str, str]:
    return {"pk": f"CUSTOMER#{customer_id}", "sk": CUSTOMER_SK}


def created_sort_key(created: str, customer_id: str) -> str:
    """``gsi1sk`` of a customer (and its entries): fixed-width UTC timestamp, then the id."""
    return f"{created}#{customer_id}"


def customer_listing(created: str, customer_id: str) -> dict[str, str]:
    return {"gsi1pk": CUSTOMERS, "gsi1sk": created_sort_key(created, customer_id)}


def customer_email_entry(customer_id: str, email: str, created: str) -> dict[str, str]:
    return {
        "pk": f"CUSTOMER#{customer_id}",
        "sk": f"EMAIL#{email}",
        "gsi1pk": customer_email_partition(email),
        "gsi1sk": created_sort_key(created, customer_id),
    }


def customer_email_partition(email: str) -> str:
    return f"CUSTOMER_EMAIL#{email}"


def customer_segment_entry(customer_id: str, segment: str, created: str) -> dict[str, str]:
    return {
        "pk": f"CUSTOMER#{customer_id}",
        "sk": f"SEGMENT#{segment}",
        "gsi1pk": customer_segment_partition(segment),
        "gsi1sk": created_sort_key(created, customer_id),
    }


def customer_segment_partition(segment: str) -> str:
    return f"CUSTOMER_SEGMENT#{segment}"


def customer_external_id_guard(external_id: str) -> dict[str, str]:
    """Uniqueness guard: exists while a live customer holds this external id."""
    return {"pk": f"CUSTOMER_EXTERNAL_ID#{external_id}", "sk": GUARD_SK}


def invoice_prefix_guard(prefix: str) -> dict[str, str]:
    """Uniqueness guard of an invoice prefix (kept for good: invoice numbers must stay unique)."""
    return {"pk": f"INVOICE_PREFIX#{prefix}", "sk": GUARD_SK}


# --------------------------------------------------------------------------- catalog

METRICS = "METRICS"
PLANS = "PLANS"
COUPONS = "COUPONS"
TAX_RATES = "TAXRATES"
PLAN_SK = "PLAN"
PLAN_VERSION_PREFIX = "VERSION#"


def metric(code: str) -> dict[str, str]:
    return {"pk": f"METRIC#{code}", "sk": "METRIC"}


def metric_listing(code: str) -> dict[str, str]:
    return {"gsi1pk": METRICS, "gsi1sk": code}


def plan(code: str) -> dict[str, str]:
    """The plan's head item: identity, current version number, a copy of the current definition."""
    return {"pk": f"PLAN#{code}", "sk": PLAN_SK}


def plan_partition(code: str) -> str:
    return f"PLAN#{code}"


def plan_version(code: str, version: int) -> dict[str, str]:
    """One immutable version of a plan's definition."""
    return {"pk": f"PLAN#{code}", "sk": f"{PLAN_VERSION_PREFIX}{version:06d}"}


def plan_listing(code: str) -> dict[str, str]:
    return {"gsi1pk": PLANS, "gsi1sk": code}


def coupon(code: str) -> dict[str, str]:
    return {"pk": f"COUPON#{code}", "sk": "COUPON"}


def coupon_listing(code: str) -> dict[str, str]:
    return {"gsi1pk": COUPONS, "gsi1sk": code}


def tax_rate(rate_id: str) -> dict[str, str]:
    return {"pk": f"TAXRATE#{rate_id}", "sk": "TAXRATE"}


def tax_rate_listing(rate_id: str) -> dict[str, str]:
    return {"gsi1pk": TAX_RATES, "gsi1sk": rate_id}


def tax_rate_seed_marker(fingerprint: str) -> dict[str, str]:
    """Records that the shipped default rates with this fingerprint were seeded."""
    return {"pk": ACCOUNT, "sk": f"TAXRATE_SEED#{fingerprint}"}


# --------------------------------------------------------------------------- subscriptions
# gsi2 holds the billing schedule: pk DUE#{shard} (shard from the subscription id, N shards),
# sk {next_billing_at ISO UTC}#{subscription_id}. The billing run queries each shard for sk <= now.

DUE_SHARDS = 16


def subscription(subscription_id: str) -> dict[str, str]:
    return {"pk": f"SUBSCRIPTION#{subscription_id}", "sk": "SUBSCRIPTION"}


def subscription_change(subscription_id: str, at_iso: str, seq: str) -> dict[str, str]:
    """Audit entry of a subscription, sorted by time."""
    return {"pk": f"SUBSCRIPTION#{subscription_id}", "sk": f"CHANGE#{at_iso}#{seq}"}


def customer_subscriptions(customer_id: str, subscription_id: str) -> dict[str, str]:
    """gsi1 entry listing a customer's subscriptions."""
    return {"gsi1pk": f"CUSTOMER_SUBSCRIPTIONS#{customer_id}", "gsi1sk": subscription_id}


def due_shard(subscription_id: str) -> int:
    import zlib

    return zlib.crc32(subscription_id.encode()) % DUE_SHARDS


def billing_schedule(subscription_id: str, next_billing_at_iso: str) -> dict[str, str]:
    return {
        "gsi2pk": f"DUE#{due_shard(subscription_id):02d}",
        "gsi2sk": f"{next_billing_at_iso}#{subscription_id}",
    }


# --------------------------------------------------------------------------- invoices


def invoice(invoice_id: str) -> dict[str, str]:
    return {"pk": f"INVOICE#{invoice_id}", "sk": "INVOICE"}


def customer_invoices(customer_id: str, created_iso: str, invoice_id: str) -> dict[str, str]:
    """gsi1 entry listing a customer's invoices, newest last."""
    return {"gsi1pk": f"CUSTOMER_INVOICES#{customer_id}", "gsi1sk": f"{created_iso}#{invoice_id}"}


def invoices_by_status(status: str, created_iso: str, invoice_id: str) -> dict[str, str]:
    """gsi2 entry listing invoices by status (drafts to finalize, open ones to collect)."""
    return {"gsi2pk": f"INVOICES#{status}", "gsi2sk": f"{created_iso}#{invoice_id}"}


def invoice_period_guard(subscription_id: str, item_id: str, period_start_iso: str) -> dict[str, str]:
    """Exists once an invoice covers this (subscription item, period): the exactly-once guard."""
    return {"pk": f"SUBPERIOD#{subscription_id}#{item_id}#{period_start_iso}", "sk": GUARD_SK}


def invoice_number_counter(scope: str) -> dict[str, str]:
    """Gapless counter per scope: the customer's invoice prefix (default) or ``ACCOUNT``."""
    return {"pk": f"COUNTER#INVOICE#{scope}", "sk": "COUNTER"}


def invoice_number_guard(number: str) -> dict[str, str]:
    return {"pk": f"INVOICE_NUMBER#{number}", "sk": GUARD_SK}


def hosted_invoice_token(token: str) -> dict[str, str]:
    """The unguessable token of a hosted invoice page -> invoice id."""
    return {"pk": f"HOSTED#{token}", "sk": "HOSTED"}


def credit_note(credit_note_id: str) -> dict[str, str]:
    return {"pk": f"CREDITNOTE#{credit_note_id}", "sk": "CREDITNOTE"}


def customer_credit_balance(customer_id: str) -> dict[str, str]:
    """The customer's credit balance (minor units per currency), changed only in transactions."""
    return {"pk": f"CUSTOMER#{customer_id}", "sk": "CREDIT_BALANCE"}


def credit_balance_attribute(currency: str) -> str:
    """The attribute of ``customer_credit_balance`` holding one currency's balance (``balance_usd``)."""
    return f"balance_{currency}"


INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")


def invoices_by_status_partition(status: str) -> str:
    return invoices_by_status(status, "", "")["gsi2pk"]


def invoice_credit_notes(invoice_id: str, number: str) -> dict[str, str]:
    """gsi1 entry listing an invoice's credit notes in number order."""
    return {"gsi1pk": invoice_credit_notes_partition(invoice_id), "gsi1sk": number}


def invoice_credit_notes_partition(invoice_id: str) -> str:
    return f"INVOICE_CREDIT_NOTES#{invoice_id}"


def customer_credit_notes(customer_id: str, created_iso: str, credit_note_id: str) -> dict[str, str]:
    """gsi2 entry listing a customer's credit notes by creation."""
    return {
        "gsi2pk": customer_credit_notes_partition(customer_id),
        "gsi2sk": f"{created_iso}#{credit_note_id}",
    }


def customer_credit_notes_partition(customer_id: str) -> str:
    return f"CUSTOMER_CREDIT_NOTES#{customer_id}"


def notification_sent(subject_id: str, kind: str) -> dict[str, str]:
    """Marker of a delivered notification (invoice or credit note, kind), in the subject's partition."""
    prefix = "CREDITNOTE" if subject_id.startswith("cn_") else "INVOICE"
    return {"pk": f"{prefix}#{subject_id}", "sk": f"NOTIFICATION#{kind}"}


PENDING_NOTIFICATION_SHARDS = 16
"""Every finalization writes and deletes a marker: sharded so they never meet one partition's limit."""


def pending_notifications_partition(shard: int) -> str:
    return f"NOTIFICATIONS_PENDING#{shard:02d}"


def pending_notification(kind: str, subject_id: str) -> dict[str, str]:
    """A notification committed but not yet enqueued (the finalizer schedule re-enqueues it)."""
    import zlib

    shard = zlib.crc32(subject_id.encode()) % PENDING_NOTIFICATION_SHARDS
    return {"pk": pending_notifications_partition(shard), "sk": f"{kind}#{subject_id}"}


def billing_run(run_id: str) -> dict[str, str]:
    return {"pk": f"BILLINGRUN#{run_id}", "sk": "BILLINGRUN"}


def billing_run_listing(created_iso: str, run_id: str) -> dict[str, str]:
    return {"gsi1pk": "BILLINGRUNS", "gsi1sk": f"{created_iso}#{run_id}"}


def billing_job_outcome(run_id: str, customer_id: str, billing_date_iso: str) -> dict[str, str]:
    return {"pk": f"BILLINGRUN#{run_id}", "sk": f"JOB#{customer_id}#{billing_date_iso}"}


# --------------------------------------------------------------------------- usage (UsageTable)
# Events: pk USAGE#{customer_id}#{shard}, shard = crc32(event id) mod N, sk EVENT#{event_id}: the key
# depends on (customer, id) only, so a duplicate is found (and a replay lands) on the same item.
# Roll-ups: pk ROLLUP#{customer_id}#{YYYY-MM}#{shard}, sk {YYYY-MM-DDTHH}#{metric}#{digest}: a
# window of hours is one sk range per (month, shard); shard = digest mod N.

USAGE_EVENT_PREFIX = "EVENT#"


def usage_shard(value: str, shards: int) -> int:
    import zlib

    return zlib.crc32(value.encode()) % shards


def usage_event(customer_id: str, event_id: str, *, shards: int) -> dict[str, str]:
    return {
        "pk": f"USAGE#{customer_id}#{usage_shard(event_id, shards):02d}",
        "sk": f"{USAGE_EVENT_PREFIX}{event_id}",
    }


def usage_hour(hour_iso: str) -> str:
    """``YYYY-MM-DDTHH`` of an hour (the roll-up sort key prefix)."""
    return hour_iso[:13]


def usage_rollup_partition(customer_id: str, month: str, shard: int) -> str:
    """``month`` is ``YYYY-MM`` (UTC) of the hour the roll-up covers."""
    return f"ROLLUP#{customer_id}#{month}#{shard:02d}"


def usage_rollup(customer_id: str, hour_iso: str, metric: str, digest: str, *, shards: int) -> dict[str, str]:
    """A roll-up of the events of one request for (customer, metric, hour); ``digest`` hashes their ids."""
    hour = usage_hour(hour_iso)
    shard = int(digest[:8], 16) % shards
    return {"pk": usage_rollup_partition(customer_id, hour[:7], shard), "sk": f"{hour}#{metric}#{digest}"}


def usage_rollup_range(first_hour_iso: str, last_hour_iso: str) -> tuple[str, str]:
    """Inclusive sk bounds of the roll-ups of every metric for the hours first..last."""
    return f"{usage_hour(first_hour_iso)}#", f"{usage_hour(last_hour_iso)}#\U0010ffff"


# --------------------------------------------------------------------------- billing (partitions queried)
# Partition and prefix values the subscription, billing-run and invoice-draft repositories query.

SUBSCRIPTION_CHANGE_PREFIX = "CHANGE#"
BILLING_RUNS = "BILLINGRUNS"
BILLING_JOB_PREFIX = "JOB#"


def customer_subscriptions_partition(customer_id: str) -> str:
    return customer_subscriptions(customer_id, "")["gsi1pk"]


def subscription_partition(subscription_id: str) -> str:
    return subscription(subscription_id)["pk"]


def due_partition(shard: int) -> str:
    """gsi2 partition of shard ``shard`` of the billing schedule (``DUE#00`` .. ``DUE#15``)."""
    return f"DUE#{shard:02d}"


def customer_invoices_partition(customer_id: str) -> str:
    return customer_invoices(customer_id, "", "")["gsi1pk"]


def billing_run_partition(run_id: str) -> str:
    return billing_run(run_id)["pk"]
