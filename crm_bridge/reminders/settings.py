"""The ``reminders:`` section of a council's config: when digests go and where templates live.

The mail server itself is ``smtp:``; members' services' address is ``smtp.members_services``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ReminderSettings"]


class ReminderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=True,
        description="false: sync decides and sends no e-mail at all (for a trial without mail)",
    )
    template_dir: str | None = Field(
        default=None,
        description="folder of the council's own mail templates; any not found there are the "
        "shipped ones. Relative paths are taken from the config file's folder",
    )
    digest_hour: int = Field(
        default=7, ge=0, le=23,
        description="local hour from which the first sync of the day sends the daily digests",
    )
    max_per_run: int = Field(
        default=500, ge=1, le=100_000,
        description="messages one sync sends at most; the rest go on the next run",
    )
