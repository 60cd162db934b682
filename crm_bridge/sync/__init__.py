"""Sync: the only writer to the CRM (push outbox, pull updates, mark overdue)."""
