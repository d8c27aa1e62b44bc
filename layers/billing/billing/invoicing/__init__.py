"""Invoicing: invoice totals now; lifecycle, numbering and rendering grow here.

``billing.invoicing.totals.compute_totals`` is the one function that turns priced
lines into an invoice's numbers (lines → discounts → tax → credits → amount due).
"""
