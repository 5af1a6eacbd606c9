"""rpm's own answers, run by Debian's python3 with python3-rpm: for each line of standard input after the
first, -1, 0 or 1 for the version before it against it, as rpm parses (rpm.ver: [epoch:]version[-release])
and orders them (rpmvercmp)."""

import itertools
import sys

import rpm

versions = [rpm.ver(line) for line in sys.stdin.read().splitlines()]
for before, after in itertools.pairwise(versions):
    print(-1 if before < after else (1 if before > after else 0))
