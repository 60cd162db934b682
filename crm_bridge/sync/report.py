"""What one sync run did, for the one-line summary and for `--json` monitoring."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SyncReport"]


@dataclass
class SyncReport:
    pushed: int = 0
    notes: int = 0
    photos: int = 0  # photos put on CRM cases
    photos_kept: int = 0  # photos the connector cannot carry, met for the first time this run
    updated: int = 0
    failed: int = 0
    deferred: int = 0
    overdue: int = 0
    reminders: int = 0  # e-mails sent (reminders, escalations, notices, digests)
    mail_waiting: int = 0  # e-mails still pending after this run (the server deferred them)
    mail_failed: int = 0  # e-mails the server refused for good this run
    duration: float = 0.0
    problems: list[str] = field(default_factory=list)
    aborted: str | None = None
    misconfigured: bool = False  # aborted because the CRM connection's settings are wrong
    # Error codes the CRM answered that its mapping does not place: code → what to do. Not
    # the CRM's words, which may quote what was sent (`enquiry show` and `connector check`
    # give them), as this report goes to cron's log.
    unplaced_codes: dict[str, str] = field(default_factory=dict)
    # Steps another sync process was running (PostgreSQL): step → who holds it.
    skipped: dict[str, str] = field(default_factory=dict)
    # CRM statuses the mapping does not know → how many pulled changes are held on each
    # (applied by a later sync once the mapping has them). Names and counts only.
    held_statuses: dict[str, int] = field(default_factory=dict)
    # The run stopped at sync.deadline_seconds: these steps (or the rest of them) were left
    # for the next run.
    deadline_reached: bool = False
    left_for_next_run: list[str] = field(default_factory=list)

    def stopped_at_deadline(self, step: str) -> None:
        """``step`` stopped (or did not start) because the run's deadline had passed."""
        self.deadline_reached = True
        if step not in self.left_for_next_run:
            self.left_for_next_run.append(step)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.deferred == 0 and self.aborted is None

    def summary(self) -> str:
        text = (
            f"sync: pushed {self.pushed}, notes {self.notes}, updated {self.updated}, "
            f"failed {self.failed}, retry later {self.deferred}, overdue {self.overdue}"
        )
        if self.photos:
            text += f", photos {self.photos}"
        if self.reminders or self.mail_waiting or self.mail_failed:
            text += (f", mail sent {self.reminders}, mail waiting {self.mail_waiting}, "
                     f"mail failed {self.mail_failed}")
        text += f" ({self.duration:.2f} s)"
        if self.skipped:
            holders = sorted(set(self.skipped.values()))
            text += f"; {', '.join(self.skipped)} skipped: {'; '.join(holders)}"
        if self.held_statuses:
            text += "; updates held on CRM statuses not in the mapping: " + ", ".join(
                f"'{status}' ({count})" for status, count in self.held_statuses.items())
        if self.deadline_reached:
            text += ("; stopped at the deadline, the next sync carries on with "
                     + ", ".join(self.left_for_next_run))
        if self.unplaced_codes:
            text += "; CRM error codes to place in the mapping: " + "; ".join(
                f"{code} ({advice})" for code, advice in sorted(self.unplaced_codes.items()))
        return f"{text}; stopped: {self.aborted}" if self.aborted else text

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data
