"""The store's tables as queries see them (the latest revision in ``migrations/versions``)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, MetaData, Table, Text

metadata = MetaData()


def _run(**kwargs: object) -> Column:
    return Column("run", Integer, ForeignKey("runs.id"), **kwargs)  # type: ignore[arg-type]


runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project", Text, nullable=False),
    Column("registry", Text, nullable=False),
    Column("registry_type", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("started_at", Text, nullable=False),
    Column("finished_at", Text),
    Column("status", Text, nullable=False, server_default="running"),
    Column("images_found", Integer, nullable=False, server_default="0"),
    Column("images_new", Integer, nullable=False, server_default="0"),
    Column("images_skipped", Integer, nullable=False, server_default="0"),
    Column("images_failed", Integer, nullable=False, server_default="0"),
    Column("report", Text),
    Column("scan_id", Text),  # the scan this run is (a share of): --scan-id, else "run-<id>"
    Column("shard", Integer, nullable=False, server_default="1"),
    Column("shards", Integer, nullable=False, server_default="1"),
    Column("runner", Text),  # "<host>:<pid>" of the process running it
    Column("alive_at", Text),  # when that process last said it was running it (every HEARTBEAT seconds)
)
# every digest a project has seen, and the run that saw it first: "new images"
digests = Table(
    "digests",
    metadata,
    Column("project", Text, primary_key=True),
    Column("digest", Text, primary_key=True),
    Column("first_run", Integer, ForeignKey("runs.id"), nullable=False),
    Column("first_seen", Text, nullable=False),
)
# each tag as the last run that described it saw it
images = Table(
    "images",
    metadata,
    Column("project", Text, primary_key=True),
    Column("registry", Text, primary_key=True),
    Column("repository", Text, primary_key=True),
    Column("tag", Text, primary_key=True),
    Column("digest", Text, nullable=False),
    Column("media_type", Text, nullable=False),
    Column("platforms", Text, nullable=False),  # JSON list of os/arch[/variant]
    Column("build_time", Text),
    Column("last_run", Integer, ForeignKey("runs.id"), nullable=False),
)
# what the analysis found in one layer, per analyser version (the layer cache, shared by all projects)
layers = Table(
    "layers",
    metadata,
    Column("diff_id", Text, primary_key=True),
    Column("analyser", Text, primary_key=True),
    Column("record", LargeBinary, nullable=False),  # zlib-compressed JSON
    Column("analysed_at", Text, nullable=False),
)
# the inventory of one image manifest (a platform's own digest inside an index), a project's own
inventories = Table(
    "inventories",
    metadata,
    Column("project", Text, primary_key=True),
    Column("digest", Text, primary_key=True),
    Column("analyser", Text, primary_key=True),
    Column("inventory", Text, nullable=False),
)
# which image and platform each run scanned
scans = Table(
    "scans",
    metadata,
    _run(primary_key=True),
    Column("project", Text, nullable=False),
    Column("registry", Text, nullable=False),
    Column("repository", Text, primary_key=True),
    Column("tag", Text, primary_key=True),
    Column("platform", Text, primary_key=True),
    Column("digest", Text, nullable=False),
    Column("analyser", Text, nullable=False),
    Column("scanned_at", Text, nullable=False),
)
# what failed in each run, and why (a repository whose tags could not be listed has an empty tag)
failures = Table(
    "failures",
    metadata,
    _run(primary_key=True),
    Column("repository", Text, primary_key=True),
    Column("tag", Text, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("code", Text, nullable=False, server_default="error"),  # auth, not-found, timeout... (errors.py)
)
# what a run's images depend on besides the registry (platforms): a killed run is resumed only by a
# run that would produce the same
run_options = Table(
    "run_options",
    metadata,
    _run(primary_key=True, autoincrement=False),
    Column("options", Text, nullable=False),
)
# what each run's scan of an image platform found: vulnerabilities and violations (zlib JSON)
findings = Table(
    "findings",
    metadata,
    _run(primary_key=True),
    Column("repository", Text, primary_key=True),
    Column("tag", Text, primary_key=True),
    Column("platform", Text, primary_key=True),
    Column("findings", LargeBinary, nullable=False),
)
# the console's API tokens: a project's, with a role (submit, read, admin); the secret's SHA-256 only
tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("digest", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False, server_default=""),
    Column("created_at", Text, nullable=False),
    Column("revoked_at", Text),
)
# each finding of a run's scan of an image platform, a row (the console filters and pages these)
finding_rows = Table(
    "finding_rows",
    metadata,
    _run(primary_key=True, autoincrement=False),
    Column("repository", Text, primary_key=True),
    Column("tag", Text, primary_key=True),
    Column("platform", Text, primary_key=True),
    Column("kind", Text, primary_key=True),  # vulnerability, violation
    Column("seq", Integer, primary_key=True, autoincrement=False),  # its place in the image platform's list
    Column("project", Text, nullable=False),
    Column("registry", Text, nullable=False),
    Column("id", Text, nullable=False),  # a vulnerability's or a check's
    Column("aliases", Text, nullable=False),  # " ALIAS-1 ALIAS-2 ", upper case, to match by any
    Column("package", Text, nullable=False),
    Column("installed", Text, nullable=False),
    Column("fixed", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("rank", Integer, nullable=False),  # the severity's order: worst first is rank descending
    Column("title", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("layer", Text, nullable=False),
)
# each name a finding goes by (its id and its aliases, upper case), a row: "where is CVE-X" reads these
# few rows through their index, not every finding of the scan
finding_names = Table(
    "finding_names",
    metadata,
    _run(primary_key=True, autoincrement=False),
    Column("repository", Text, primary_key=True),
    Column("tag", Text, primary_key=True),
    Column("platform", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, primary_key=True),
    Column("project", Text, nullable=False),
)
# the digest each image a dry run described had: `--plan REPORT.csv` scans those digests
planned = Table(
    "planned",
    metadata,
    _run(primary_key=True, autoincrement=False),
    Column("repository", Text, primary_key=True),
    Column("tag", Text, primary_key=True),
    Column("digest", Text, nullable=False),
)
