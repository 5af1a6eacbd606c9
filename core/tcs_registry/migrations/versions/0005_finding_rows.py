"""Every finding a row of its own (the findings stay whole per image platform beside them): the console
filters and pages a project's findings in the database, worst first, however many there are. The
findings already recorded are listed as the upgrade goes.

Revision ID: 0005
"""

import json
import zlib

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    from tcs_registry.store import finding_rows_of

    table = op.create_table(
        "finding_rows",
        sa.Column("run", sa.Integer(), sa.ForeignKey("runs.id"), primary_key=True, autoincrement=False),
        sa.Column("repository", sa.Text(), primary_key=True),
        sa.Column("tag", sa.Text(), primary_key=True),
        sa.Column("platform", sa.Text(), primary_key=True),
        sa.Column("kind", sa.Text(), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("registry", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("aliases", sa.Text(), nullable=False),
        sa.Column("package", sa.Text(), nullable=False),
        sa.Column("installed", sa.Text(), nullable=False),
        sa.Column("fixed", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("layer", sa.Text(), nullable=False),
    )
    # a page worst first, read in index order (and counted by severity from the index alone)
    columns = ["project", "kind", "run", "rank", "repository", "tag", "platform", "seq"]
    op.create_index("finding_rows_by_rank", "finding_rows", columns)
    op.create_index("finding_rows_by_package", "finding_rows", ["project", "kind", "run", "package"])
    op.create_index("finding_rows_by_id", "finding_rows", ["project", "kind", "run", "id"])
    connection = op.get_bind()
    recorded = sa.text(
        "SELECT f.run, f.repository, f.tag, f.platform, f.findings, s.project, s.registry FROM findings f "
        "JOIN scans s ON s.run = f.run AND s.repository = f.repository AND s.tag = f.tag AND s.platform = f.platform"
    )
    batch = []
    for row in connection.execute(recorded).mappings():
        document = json.loads(zlib.decompress(row["findings"]))
        batch += finding_rows_of(row["project"], row["registry"], row["run"], row, document)
        if len(batch) >= 5000:
            connection.execute(table.insert(), batch)
            batch = []
    if batch:
        connection.execute(table.insert(), batch)


def downgrade() -> None:
    for index in ("finding_rows_by_id", "finding_rows_by_package", "finding_rows_by_rank"):
        op.drop_index(index, "finding_rows")
    op.drop_table("finding_rows")
