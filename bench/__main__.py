"""`python -m bench NAME [options]`: one benchmark, or `all` for the suite `make bench` runs."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = ("generate", "batch", "suggest", "alerts", "pages", "http", "funnel")
SUITE = ("batch", "suggest", "alerts", "pages", "http", "funnel")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("benchmarks:", ", ".join(BENCHMARKS), "| all")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name == "all":
        started = time.perf_counter()
        for each in SUITE:
            print(f"# {each}", file=sys.stderr, flush=True)
            code = importlib.import_module(f"bench.{each}").main(rest)
            if code:
                return code
        print(f"# suite done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        return 0
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}; one of {', '.join(BENCHMARKS)} or all", file=sys.stderr)
        return 2
    return importlib.import_module(f"bench.{name}").main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
