"""The customer portal's pure parts: session tokens and form checks (``sessions``), what the pages
show (``views``). The orchestration (reads, writes, rendering) is ``billing.services.portal``."""
