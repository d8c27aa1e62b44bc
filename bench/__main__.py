"""Run every bench/bench_*.py (or those named on the command line) and print their tables."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    failed = 0
    for name in names:
        module = importlib.import_module(f"bench.{name if name.startswith('bench_') else 'bench_' + name}")
        print(f"\n== {module.__name__.removeprefix('bench.')} ==")
        started = time.perf_counter()
        try:
            module.main()
        except Exception as exc:  # one benchmark failing must not hide the others
            failed += 1
            print(f"FAILED: {type(exc).__name__}: {exc}")
        print(f"({time.perf_counter() - started:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path[:0] = [str(HERE.parent / "layers" / "billing"), str(HERE.parent)]
    raise SystemExit(main(sys.argv[1:]))
