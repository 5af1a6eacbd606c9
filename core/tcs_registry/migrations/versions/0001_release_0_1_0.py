"""The schema of release 0.1.0, as it wrote it by hand; a store it made is stamped with this revision.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    text, integer = sa.Text(), sa.Integer()
    op.create_table(
        "runs",
        sa.Column("id", integer, primary_key=True),
        sa.Column("project", text, nullable=False),
        sa.Column("registry", text, nullable=False),
        sa.Column("registry_type", text, nullable=False),
        sa.Column("mode", text, nullable=False),
        sa.Column("started_at", text, nullable=False),
        sa.Column("finished_at", text),
        sa.Column("status", text, nullable=False, server_default="running"),
        sa.Column("images_found", integer, nullable=False, server_default="0"),
        sa.Column("images_new", integer, nullable=False, server_default="0"),
        sa.Column("images_skipped", integer, nullable=False, server_default="0"),
        sa.Column("images_failed", integer, nullable=False, server_default="0"),
        sa.Column("report", text),
    )
    run = sa.ForeignKey("runs.id")
    op.create_table(
        "digests",
        sa.Column("project", text, primary_key=True),
        sa.Column("digest", text, primary_key=True),
        sa.Column("first_run", integer, run, nullable=False),
        sa.Column("first_seen", text, nullable=False),
    )
    op.create_table(
        "images",
        sa.Column("project", text, primary_key=True),
        sa.Column("registry", text, primary_key=True),
        sa.Column("repository", text, primary_key=True),
        sa.Column("tag", text, primary_key=True),
        sa.Column("digest", text, nullable=False),
        sa.Column("media_type", text, nullable=False),
        sa.Column("platforms", text, nullable=False),
        sa.Column("build_time", text),
        sa.Column("last_run", integer, sa.ForeignKey("runs.id"), nullable=False),
    )
    op.create_table(
        "layers",
        sa.Column("diff_id", text, primary_key=True),
        sa.Column("analyser", text, primary_key=True),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("analysed_at", text, nullable=False),
    )
    op.create_table(
        "inventories",
        sa.Column("digest", text, primary_key=True),
        sa.Column("analyser", text, primary_key=True),
        sa.Column("inventory", text, nullable=False),
    )
    op.create_table(
        "scans",
        sa.Column("run", integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("project", text, nullable=False),
        sa.Column("registry", text, nullable=False),
        sa.Column("repository", text, primary_key=True),
        sa.Column("tag", text, primary_key=True),
        sa.Column("platform", text, primary_key=True),
        sa.Column("digest", text, nullable=False),
        sa.Column("analyser", text, nullable=False),
        sa.Column("scanned_at", text, nullable=False),
    )
    op.create_table(
        "failures",
        sa.Column("run", integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("repository", text, primary_key=True),
        sa.Column("tag", text, primary_key=True),
        sa.Column("reason", text, nullable=False),
    )
    op.create_table(
        "run_options",
        sa.Column("run", integer, sa.ForeignKey("runs.id"), primary_key=True, autoincrement=False),
        sa.Column("options", text, nullable=False),
    )
    op.create_table(
        "findings",
        sa.Column("run", integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("repository", text, primary_key=True),
        sa.Column("tag", text, primary_key=True),
        sa.Column("platform", text, primary_key=True),
        sa.Column("findings", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    for table in ("findings", "run_options", "failures", "scans", "inventories", "layers", "images", "digests"):
        op.drop_table(table)
    op.drop_table("runs")
