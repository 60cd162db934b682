"""What a decide pass hands back: the messages it decided, and problems said once each."""

from __future__ import annotations

import logging
from dataclasses import dataclass

__all__ = ["Decision", "Problems"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """A message decided this run (recorded, or only listed on a dry run)."""

    kind: str
    reference: str | None
    recipients: tuple[str, ...]
    subject: str = ""

    def describe(self) -> str:
        about = f" for {self.reference}" if self.reference else ""
        return (f"would e-mail {self.kind.replace('_', '-')}{about} to "
                f"{', '.join(self.recipients)}: {self.subject}")


class Problems:
    """Lines for the sync report, each said once however many messages it holds up."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        if line not in self.lines:
            self.lines.append(line)
            log.warning("%s", line)
