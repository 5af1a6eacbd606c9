"""Why the vulnerability database stays a local file on each worker rather than moving into a shared
PostgreSQL store: the cost of one package's lookup in the local ``osv.db`` against one indexed query
to PostgreSQL on loopback (a throwaway cluster), the best a shared database can do before any network.

    .venv/bin/python benchmarks/osv_lookup.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import psycopg

from tcs_registry.testing.postgres import PostgresServer
from tcs_registry.vulns.database import VulnDatabase

RECORDS = Path(__file__).parent.parent / "tests" / "fixtures" / "osv"
NAMES = ["openssl", "dpkg", "zlib", "musl", "libc6", "bash", "curl", "tar"] * 250


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = VulnDatabase(Path(tmp))
        database.import_paths([RECORDS])
        start = time.perf_counter()
        for name in NAMES:
            database.candidates("Debian:9", name)
        local = (time.perf_counter() - start) / len(NAMES)
        database.close()
    with PostgresServer() as postgres, psycopg.connect(postgres.url()) as connection:
        connection.execute(
            "CREATE TABLE affected (ecosystem text, name text, vuln_id text, PRIMARY KEY (ecosystem, name, vuln_id))"
        )
        start = time.perf_counter()
        for name in NAMES:
            query = "SELECT vuln_id FROM affected WHERE ecosystem = %s AND name = %s"
            connection.execute(query, ("Debian:9", name)).fetchall()
        remote = (time.perf_counter() - start) / len(NAMES)
    print(
        f"a package's lookup: local osv.db {local * 1e6:.0f} us, PostgreSQL on loopback {remote * 1e6:.0f} us "
        f"({remote / local:.0f}x); an image of 200 packages: {200 * local * 1e3:.1f} ms against "
        f"{200 * remote * 1e3:.1f} ms, before the network's round trip for each package"
    )


if __name__ == "__main__":
    main()
