"""Invoice documents: what a PDF costs beside the HTML of the same invoice.

* cold: a fresh interpreter importing fpdf2 (what the first PDF of a container pays once), beside
  jinja2 + Babel (what the HTML pays), median of several runs;
* warm: rendering from a view already built, median of several renders, for a one-page invoice, a
  60-line invoice (3 pages) and a Japanese one (the CJK font is loaded only for it), and the HTML
  of the one-page invoice;
* size of each PDF (fonts embedded as subsets).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "billing"), str(ROOT), str(ROOT / "tests" / "unit")]
RUNS = 7


def cold_import(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    walls = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
        walls.append(float(out.stdout.strip()))
    return statistics.median(walls)


def warm(render: Any, runs: int = RUNS) -> tuple[float, int]:
    render()  # fonts parsed, caches warm
    times, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        out = render()
        times.append((time.perf_counter() - started) * 1000)
        size = len(out)
    return statistics.median(times), size


def main() -> None:
    from test_pdf import english, invoice_view, line  # the unit tests' views (the new shape)

    from billing.pdf import render_invoice_pdf
    from billing.services.documents import render

    imports = [
        ("import fpdf (fpdf2, fontTools, Pillow)", cold_import("import fpdf")),
        ("import jinja2 + babel.numbers/dates", cold_import("import jinja2, babel.numbers, babel.dates")),
    ]
    print(f"{'cold start (fresh interpreter)':<44}{'ms':>10}")
    for name, ms in imports:
        print(f"{name:<44}{ms:>10.1f}")
    print(f"(median of {RUNS})\n")

    one = invoice_view()
    sixty = invoice_view(lines=[line(n) for n in range(1, 61)])
    japanese = invoice_view(customer={**one["customer"], "name": "株式会社山田商事"})
    rows = [
        ("PDF, 2 lines (1 page)", warm(lambda: render_invoice_pdf(one, gettext=english))),
        ("PDF, 60 lines (3 pages)", warm(lambda: render_invoice_pdf(sixty, gettext=english))),
        ("PDF, Japanese customer (CJK font)", warm(lambda: render_invoice_pdf(japanese, gettext=english))),
        (
            "HTML, 2 lines (the same view)",
            warm(lambda: render("credit_note.html.j2", **credit_note_like(one)).encode()),
        ),
    ]
    base = rows[0][1][0]
    print(f"{'warm render':<44}{'ms':>10}{'bytes':>10}{'x 1-page PDF':>14}")
    for name, (ms, size) in rows:
        print(f"{name:<44}{ms:>10.1f}{size:>10,}{ms / base:>14.2f}")
    print(f"(median of {RUNS} renders after one warm-up)")


def credit_note_like(view: dict[str, Any]) -> dict[str, Any]:
    """The invoice view as the credit note template reads it (a template of this branch that takes
    the new ``seller`` shape, so the HTML row needs no Branding)."""
    return {
        **view,
        "credit_note": {
            "id": "cn_0",
            "number": "GLOBEX-0007-CN-01",
            "issued": "May 10, 2026",
            "reason": "other",
            "reason_label": "Other",
            "memo": None,
            "currency": "USD",
        },
        "totals": {
            **view["totals"],
            "reduces_amount_due": None,
            "credit_to_balance": None,
            "refund_amount": None,
        },
    }


if __name__ == "__main__":
    main()
