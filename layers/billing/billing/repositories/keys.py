"""Every key of the single BillingTable is built here and nowhere else.

See docs/data-model.md for the access patterns these keys serve.
"""

from __future__ import annotations

ACCOUNT = "ACCOUNT"


def api_key(key_id: str) -> dict[str, str]:
    """An API key lives in the account partition: GetItem by id, Query to list."""
    return {"pk": ACCOUNT, "sk": f"APIKEY#{key_id}"}


API_KEY_PREFIX = "APIKEY#"


def account_settings() -> dict[str, str]:
    """The seller's settings (GET/PATCH /v1/account): one item per deployment."""
    return {"pk": ACCOUNT, "sk": "SETTINGS"}


def account_settings_change(at_iso: str, version: int) -> dict[str, str]:
    """One audit entry per change of the seller's settings, in time order."""
    return {"pk": ACCOUNT, "sk": f"{ACCOUNT_SETTINGS_CHANGE_PREFIX}{at_iso}#{version:08d}"}


ACCOUNT_SETTINGS_CHANGE_PREFIX = "SETTINGS_CHANGE#"


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


CUSTOMER_CHANGE_PREFIX = "CHANGE#"


def customer_change(customer_id: str, at_iso: str, version: int) -> dict[str, str]:
    """One audit entry per change of a customer (who, when, from what to what), in time order, in the
    customer's partition: written in the transaction of the change it records."""
    return {"pk": f"CUSTOMER#{customer_id}", "sk": f"{CUSTOMER_CHANGE_PREFIX}{at_iso}#{version:08d}"}


def customer_partition(customer_id: str) -> str:
    return customer(customer_id)["pk"]


# --------------------------------------------------------------------------- customer portal
# A portal session is found by the SHA-256 of the token in its URL (the token itself is never
# stored); the item expires through the table's TTL (``expires_at``) and every read checks it too.


def portal_session(token_hash: str) -> dict[str, str]:
    return {"pk": f"PORTAL_SESSION#{token_hash}", "sk": "PORTAL_SESSION"}


def setup_checkout(checkout_session_id: str) -> dict[str, str]:
    """A Checkout Session in setup mode started from the portal (``cs_...``) -> the customer: applied
    once, by the customer's return or by the ``checkout.session.completed`` webhook, whichever comes
    first."""
    return {"pk": f"SETUP_CHECKOUT#{checkout_session_id}", "sk": "SETUP_CHECKOUT"}


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


# --------------------------------------------------------------------------- payments
# A payment is stored twice: by id (with the gsi2 month listing the export reads) and in its
# invoice's partition (the invoice's payment history, also on gsi1). Refunds likewise.

PAYMENT_SK_PREFIX = "PAYMENT#"
REFUND_SK_PREFIX = "REFUND#"


def payment(payment_id: str) -> dict[str, str]:
    return {"pk": f"PAYMENT#{payment_id}", "sk": "PAYMENT"}


def invoice_payment(invoice_id: str, payment_id: str) -> dict[str, str]:
    """The invoice's copy of one of its payments: Query ``pk = INVOICE#{id}, sk begins_with PAYMENT#``."""
    return {"pk": f"INVOICE#{invoice_id}", "sk": f"{PAYMENT_SK_PREFIX}{payment_id}"}


def invoice_payments_listing(invoice_id: str, created_iso: str, payment_id: str) -> dict[str, str]:
    """gsi1 entry listing an invoice's payments by creation."""
    return {"gsi1pk": f"INVOICE_PAYMENTS#{invoice_id}", "gsi1sk": f"{created_iso}#{payment_id}"}


def payments_by_month(created_iso: str, payment_id: str) -> dict[str, str]:
    """gsi2 entry listing every payment by creation month (``created_iso`` is UTC ISO)."""
    return {"gsi2pk": payments_month_partition(created_iso[:7]), "gsi2sk": f"{created_iso}#{payment_id}"}


def payments_month_partition(month: str) -> str:
    """``month`` is ``yyyy-mm``."""
    return f"PAYMENTS#{month}"


def refund(refund_id: str) -> dict[str, str]:
    return {"pk": f"REFUND#{refund_id}", "sk": "REFUND"}


def invoice_refund(invoice_id: str, refund_id: str) -> dict[str, str]:
    return {"pk": f"INVOICE#{invoice_id}", "sk": f"{REFUND_SK_PREFIX}{refund_id}"}


def refunds_by_month(created_iso: str, refund_id: str) -> dict[str, str]:
    return {"gsi2pk": refunds_month_partition(created_iso[:7]), "gsi2sk": f"{created_iso}#{refund_id}"}


def refunds_month_partition(month: str) -> str:
    return f"REFUNDS#{month}"


def provider_payment(provider_payment_id: str) -> dict[str, str]:
    """Lookup provider payment id (``pi_...``) -> our payment id (reconciliation, webhooks)."""
    return {"pk": f"PROVIDER_PAYMENT#{provider_payment_id}", "sk": "LOOKUP"}


def provider_refund(provider_refund_id: str) -> dict[str, str]:
    return {"pk": f"PROVIDER_REFUND#{provider_refund_id}", "sk": "LOOKUP"}


def webhook_event(event_id: str) -> dict[str, str]:
    """Dedup marker of a received provider webhook event (conditional put)."""
    return {"pk": f"WEBHOOK_EVENT#{event_id}", "sk": "EVENT"}


def provider_customer(provider_customer_id: str) -> dict[str, str]:
    """Lookup provider customer id (``cus_...``) -> our customer id."""
    return {"pk": f"PROVIDER_CUSTOMER#{provider_customer_id}", "sk": "LOOKUP"}


PENDING_PAYMENT_SHARDS = 16


def pending_payments_partition(shard: int) -> str:
    return f"PAYMENTS_PENDING#{shard:02d}"


def pending_payment(invoice_id: str) -> dict[str, str]:
    """A payment attempt committed (at finalization) but not yet enqueued; the finalizer re-enqueues it."""
    import zlib

    shard = zlib.crc32(invoice_id.encode()) % PENDING_PAYMENT_SHARDS
    return {"pk": pending_payments_partition(shard), "sk": f"collect#{invoice_id}"}


DUNNING_DUE = "DUNNING_DUE"
DUNNING_SHARDS = 16
"""Shards of the dunning due-index (like the billing schedule): the hourly run queries each one."""


def dunning_shard(invoice_id: str) -> int:
    import zlib

    return zlib.crc32(invoice_id.encode()) % DUNNING_SHARDS


def dunning_due_partition(shard: int) -> str:
    """gsi2 partition of shard ``shard`` of the dunning due-index (``DUNNING_DUE#00`` .. ``#15``)."""
    return f"{DUNNING_DUE}#{shard:02d}"


def dunning_schedule(invoice_id: str, next_at_iso: str) -> dict[str, str]:
    """gsi2 entry of an invoice in dunning, due at ``next_at_iso`` (the hourly dunning run queries each
    shard for sk <= now). ``next_at_iso`` is a fixed-width UTC timestamp (``transactions.timestamp``)."""
    return {
        "gsi2pk": dunning_due_partition(dunning_shard(invoice_id)),
        "gsi2sk": f"{next_at_iso}#{invoice_id}",
    }


def customer_dunning(customer_id: str, invoice_id: str) -> dict[str, str]:
    """gsi1 entry listing a customer's invoices in dunning (a new payment method retries them at once)."""
    return {"gsi1pk": customer_dunning_partition(customer_id), "gsi1sk": invoice_id}


def customer_dunning_partition(customer_id: str) -> str:
    return f"CUSTOMER_DUNNING#{customer_id}"


def reconciliation(run_id: str) -> dict[str, str]:
    return {"pk": f"RECONCILIATION#{run_id}", "sk": "RECONCILIATION"}


RECONCILIATIONS = "RECONCILIATIONS"


def reconciliation_listing(created_iso: str, run_id: str) -> dict[str, str]:
    """gsi1 entry listing reconciliation reports by creation."""
    return {"gsi1pk": RECONCILIATIONS, "gsi1sk": f"{created_iso}#{run_id}"}


def provider_dispute(provider_dispute_id: str) -> dict[str, str]:
    """The last applied state of a provider dispute (``du_...``): its status and the event's time."""
    return {"pk": f"PROVIDER_DISPUTE#{provider_dispute_id}", "sk": "LOOKUP"}


def invoice_dunning(invoice_id: str) -> dict[str, str]:
    """The invoice's dunning state (schedule, step); carries ``dunning_schedule`` while a retry is due."""
    return {"pk": f"INVOICE#{invoice_id}", "sk": "DUNNING"}


# --------------------------------------------------------------------------- accounting journal
# One item per accounting event (finalized, paid, uncollectible, void, credit note), written in the
# transaction of the state change, in the partition of the event's month: the export reads the
# months of its window and never scans.


def journal_event(at_iso: str, entry_id: str) -> dict[str, str]:
    """``at_iso`` is the fixed-width UTC instant of the event (``transactions.timestamp``)."""
    return {"pk": journal_month_partition(at_iso[:7]), "sk": f"{at_iso}#{entry_id}"}


def journal_month_partition(month: str) -> str:
    """``month`` is ``yyyy-mm``."""
    return f"JOURNAL#{month}"


# --------------------------------------------------------------------------- paying from the hosted page
# The invoice's current Checkout Session (one at a time) and the cards refused on the Checkout page,
# in the invoice's partition next to its payments.

DECLINE_SK_PREFIX = "DECLINE#"


def invoice_checkout(invoice_id: str) -> dict[str, str]:
    """The invoice's current pay link: session id, amount, generation (``services.checkout``)."""
    return {"pk": f"INVOICE#{invoice_id}", "sk": "CHECKOUT"}


def invoice_checkout_decline(invoice_id: str, decline_id: str) -> dict[str, str]:
    """A card refused on the Checkout page (``decline_id``: the failed charge, else the event)."""
    return {"pk": f"INVOICE#{invoice_id}", "sk": f"{DECLINE_SK_PREFIX}{decline_id}"}


# --------------------------------------------------------------------------- invoice queries
# A customer's question about an invoice (``INVOICE_QUERY#{id}``), listed by status (gsi1) and by
# customer (gsi2); its copy in the invoice's partition lists an invoice's queries, and a counter
# there bounds the open ones.

QUERY_SK_PREFIX = "QUERY#"
INVOICE_QUERY_STATUSES = ("open", "resolved")


def invoice_query(query_id: str) -> dict[str, str]:
    return {"pk": f"INVOICE_QUERY#{query_id}", "sk": "INVOICE_QUERY"}


def invoice_queries_by_status(status: str, created_iso: str, query_id: str) -> dict[str, str]:
    """gsi1 entry: every query of a status, by creation."""
    return {"gsi1pk": invoice_queries_status_partition(status), "gsi1sk": f"{created_iso}#{query_id}"}


def invoice_queries_status_partition(status: str) -> str:
    return f"INVOICE_QUERIES#{status}"


def customer_invoice_queries(customer_id: str, created_iso: str, query_id: str) -> dict[str, str]:
    """gsi2 entry: a customer's queries, by creation."""
    return {"gsi2pk": customer_invoice_queries_partition(customer_id), "gsi2sk": f"{created_iso}#{query_id}"}


def customer_invoice_queries_partition(customer_id: str) -> str:
    return f"CUSTOMER_INVOICE_QUERIES#{customer_id}"


def invoice_query_copy(invoice_id: str, created_iso: str, query_id: str) -> dict[str, str]:
    """The invoice's copy of one of its queries: Query ``pk = INVOICE#{id}, sk begins_with QUERY#``."""
    return {"pk": f"INVOICE#{invoice_id}", "sk": f"{QUERY_SK_PREFIX}{created_iso}#{query_id}"}


def invoice_query_counter(invoice_id: str) -> dict[str, str]:
    """``open``: the invoice's open queries (bounded when a query is created)."""
    return {"pk": f"INVOICE#{invoice_id}", "sk": "QUERIES"}
