"""Routers of the `customer_pages` function: the pages a business's customers see (no API key)."""
