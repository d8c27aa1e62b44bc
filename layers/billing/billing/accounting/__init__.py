"""Accounting: the double-entry journal built from billing events, and its export formats."""
