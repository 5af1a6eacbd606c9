"""Each name a finding goes by (its id and its aliases) a row of its own, indexed: finding where a
vulnerability is, by any of its names, reads only its rows rather than every finding of the scans. The
names of the findings already recorded are listed as the upgrade goes. And the findings a layer brings,
indexed (the base layers page links to them).

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    from tcs_registry.store import names_of

    table = op.create_table(
        "finding_names",
        sa.Column("run", sa.Integer(), sa.ForeignKey("runs.id"), primary_key=True, autoincrement=False),
        sa.Column("repository", sa.Text(), primary_key=True),
        sa.Column("tag", sa.Text(), primary_key=True),
        sa.Column("platform", sa.Text(), primary_key=True),
        sa.Column("kind", sa.Text(), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("project", sa.Text(), nullable=False),
    )
    op.create_index("finding_names_by_name", "finding_names", ["project", "kind", "name", "run"])
    op.create_index("finding_rows_by_layer", "finding_rows", ["project", "kind", "run", "layer"])
    op.drop_index("finding_rows_by_id", "finding_rows")  # an id is found through its names now
    connection = op.get_bind()
    recorded = sa.text("SELECT run, repository, tag, platform, kind, seq, project, aliases FROM finding_rows")
    batch = []
    streamed = recorded.execution_options(stream_results=True, yield_per=5000)  # (psycopg: not all at once)
    for row in connection.execute(streamed).mappings():
        batch += names_of([row])
        if len(batch) >= 5000:
            connection.execute(table.insert(), batch)
            batch = []
    if batch:
        connection.execute(table.insert(), batch)


def downgrade() -> None:
    op.create_index("finding_rows_by_id", "finding_rows", ["project", "kind", "run", "id"])
    op.drop_index("finding_rows_by_layer", "finding_rows")
    op.drop_index("finding_names_by_name", "finding_names")
    op.drop_table("finding_names")
