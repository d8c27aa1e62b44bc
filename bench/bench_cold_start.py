"""Cold-start cost of each function: a fresh interpreter importing the handler module.

Beside the floor of a fresh interpreter importing only boto3 (what every Python
Lambda that talks to AWS pays), as a ratio. Median of several runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
sys.path[:0] = [{layer!r}, {code!r}]
{stmt}
t1 = time.perf_counter()
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def measure(code: str, stmt: str, env: dict[str, str]) -> dict[str, float]:
    walls, imports, rss = [], [], []
    src = CHILD.format(layer=str(ROOT / "layers" / "billing"), code=code, stmt=stmt)
    for _ in range(RUNS):
        import time

        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-I", "-c", src], env=env, capture_output=True, text=True, check=False
        )
        walls.append((time.perf_counter() - t0) * 1000)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "child failed")
        data = json.loads(out.stdout.strip().splitlines()[-1])
        imports.append(data["import_ms"])
        rss.append(data["maxrss_kb"])
    return {
        "wall_ms": statistics.median(walls),
        "import_ms": statistics.median(imports),
        "rss_mb": max(rss) / 1024,
    }


def main() -> None:
    sys.path[:0] = [str(ROOT)]
    from local.functions import function_environment, function_specs, local_refs, placeholder_refs
    from local.template import load_template

    template = load_template()
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        **function_environment(template, local_refs(template, extra=placeholder_refs(template))),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    floor = measure(str(ROOT), "import boto3", env)
    rows = [("floor: import boto3", floor)]
    for name, spec in sorted(function_specs(template).items()):
        module = spec.handler.rpartition(".")[0]
        rows.append((name, measure(str(spec.code_uri), f"import {module}", env)))
    print(
        f"{'function':<28}{'wall ms':>10}{'import ms':>11}{'max RSS MB':>12}{'wall/floor':>12}{'RSS/floor':>11}"
    )
    for name, r in rows:
        print(
            f"{name:<28}{r['wall_ms']:>10.1f}{r['import_ms']:>11.1f}{r['rss_mb']:>12.1f}"
            f"{r['wall_ms'] / floor['wall_ms']:>12.2f}{r['rss_mb'] / floor['rss_mb']:>11.2f}"
        )
    print(f"(median of {RUNS} fresh interpreters each; wall = process start to exit)")


if __name__ == "__main__":
    main()
