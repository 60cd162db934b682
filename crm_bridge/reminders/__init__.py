"""Deadlines by e-mail: heads-ups, reminders and escalations to services, response notices
to members, and the daily digest to members' services.

It runs as the last step of `crm-bridge sync` (``step.run_reminders``), after the CRM's
responses have been pulled and overdue enquiries marked, so a response that arrived just
before the deadline stops the reminder in the same run. Each pass has two halves:

    decide   (one transaction each)   what is due today → rendered message recorded as a
                                      ``notifications`` row, unique by its dedupe key
    send     (row by row)             pending rows → SMTP → marked sent in the store

so re-running sync never decides a message twice, and a message that could not be sent
stays pending for the next run. The modules, by job:

    schedule    which service messages are due on a day (pure: dates in, kinds out)
    facts       what a message may say about an enquiry (no constituent details)
    service     decide heads-ups, reminders and escalations for open enquiries
    responses   decide members' response notices and their daily digests
    digest      decide the daily digest to members' services
    render      Jinja2 templates (the council may override them) → e-mail messages
    ledger      the notifications table: record, claim, mark sent / retry / failed
    smtp        the mail server: one connection a run, errors classified
    send        the send half, with a last check that the message is still true
    extension   a member-agreed deadline extension (CLI and portal)
    decision    what a decide pass returns, and its problems for the sync report
    step        the whole pass, as sync runs it

This module imports nothing, so the config schema can import ``reminders.settings``.
"""

__all__: list[str] = []
