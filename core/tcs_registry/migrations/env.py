"""Alembic's entry point: migrations run on the connection the store hands over, never on their own."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection)  # inside the store's transaction: all or nothing
with context.begin_transaction():
    context.run_migrations()
