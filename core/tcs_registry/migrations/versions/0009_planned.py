"""The digest each image a dry run described had, kept per run: a scan of the dry run's report
(`--plan REPORT.csv`) scans those very digests, and says which tags moved since.

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "planned",
        sa.Column("run", sa.Integer(), sa.ForeignKey("runs.id"), primary_key=True, autoincrement=False),
        sa.Column("repository", sa.Text(), primary_key=True),
        sa.Column("tag", sa.Text(), primary_key=True),
        sa.Column("digest", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("planned")
