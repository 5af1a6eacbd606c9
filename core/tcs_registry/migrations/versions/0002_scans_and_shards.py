"""Runs belong to a scan (`--scan-id`, workers of one registry scan) and take a share of it (`--shard K/N`).
A run made before has a scan of its own, named after it.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("runs", sa.Column("scan_id", sa.Text()))
    op.add_column("runs", sa.Column("shard", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("runs", sa.Column("shards", sa.Integer(), nullable=False, server_default="1"))
    op.execute("UPDATE runs SET scan_id = 'run-' || CAST(id AS TEXT)")
    op.create_index("runs_by_scan", "runs", ["project", "scan_id"])
    op.create_index("runs_by_registry", "runs", ["project", "registry", "mode"])
    op.create_index("scans_by_project", "scans", ["project", "run"])


def downgrade() -> None:
    for index, table in (("scans_by_project", "scans"), ("runs_by_registry", "runs"), ("runs_by_scan", "runs")):
        op.drop_index(index, table)
    for column in ("shards", "shard", "scan_id"):
        op.drop_column("runs", column)
