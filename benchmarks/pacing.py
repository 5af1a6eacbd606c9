"""How `Pace` finds a registry's rate limit: simulated on a clock of its own (no network, the same every
run), each registry for 90 seconds, each with several draws where refusals come at random. Printed for
each: the requests a second accepted after the first ten seconds (the limit being found) and the share
of requests refused then, the least and the median over the draws.

    .venv/bin/python benchmarks/pacing.py [DRAWS]      # default 12
"""

from __future__ import annotations

import logging
import random
import statistics
import sys

from tcs_registry.pacing import Pace
from tcs_registry.testing.proxy import TokenBucket
from tcs_registry.testing.simulation import FakeClock, drive

SECONDS, FOUND = 90.0, 10.0
REGISTRIES = [  # (limit a second, burst, share refused at random whatever the rate)
    (100.0, 20.0, 0.0),
    (50.0, 10.0, 0.0),
    (200.0, 20.0, 0.0),
    (50.0, 1.0, 0.0),  # nginx's limit_req without burst=
    (50.0, 10.0, 0.05),
    (100.0, 20.0, 0.05),
    (50.0, 10.0, 0.12),
    (None, 0.0, 0.08),  # a gateway refusing at random, no limit
]


def run(limit: float | None, burst: float, random_share: float, seed: int) -> tuple[float, float]:
    clock, draw = FakeClock(), random.Random(seed)
    bucket = TokenBucket(limit, burst, clock) if limit else None
    pace = Pace(None, clock=clock)

    def refuse() -> bool:
        return draw.random() < random_share or (bucket is not None and not bucket.take())

    accepted, refusals = drive(pace, clock, refuse, seconds=SECONDS)
    start = 100.0 + FOUND
    settled = [t for t in accepted if t >= start]
    refused = [t for t in refusals if t >= start]
    return len(settled) / (accepted[-1] - start), len(refused) / (len(settled) + len(refused))


def main() -> None:
    draws = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    logging.getLogger("tcs_registry").setLevel(logging.ERROR)  # the "slowing down" warnings
    print(f"{'limit':>6} {'burst':>5} {'random':>6} | accepted a second: least  median | refused: median   most")
    for limit, burst, random_share in REGISTRIES:
        results = [run(limit, burst, random_share, seed) for seed in range(draws if random_share else 1)]
        rates, refused = [r for r, _ in results], [f for _, f in results]
        shown = f"{limit:6g}" if limit else "  none"
        print(
            f"{shown} {burst:5g} {random_share:6.0%} | {min(rates):24.1f} {statistics.median(rates):7.1f}"
            f" | {statistics.median(refused):15.1%} {max(refused):6.1%}"
        )


if __name__ == "__main__":
    main()
