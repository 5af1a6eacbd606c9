"""The store's schema versions (Alembic): ``versions/`` holds one file per change, oldest first."""
