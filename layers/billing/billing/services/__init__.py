"""Use cases: one verb-first function per thing the product does."""
