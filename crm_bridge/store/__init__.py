"""The state store: enquiries, history, outbox, cursors, locks (SQLAlchemy + Alembic)."""
