"""Sync's own tests: the rest connector against the CRM stand-in, retries, locks, and the
fault-injection proof (kill -9 at random while the CRM fails 30% of calls)."""
