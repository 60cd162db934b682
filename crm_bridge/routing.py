"""Route an enquiry: category (and ward) → service destination, with target and warning dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import InputError
from crm_bridge.models import ServiceDestination
from crm_bridge.suggest import unknown
from crm_bridge.workdays import WorkingCalendar

__all__ = ["Route", "Router"]

_DATES_KEPT = 4096


@dataclass(frozen=True)
class Route:
    service: ServiceDestination
    received_on: date
    target_date: date
    warning_date: date


class Router:
    """Built once per process from the config; routing itself is pure."""

    def __init__(self, config: CouncilConfig) -> None:
        self.config = config
        self.calendar = WorkingCalendar(
            config.council.timezone,
            config.calendar.bank_holidays,
            config.calendar.closure_days,
        )
        self._services = {s.id: s for s in config.services}
        self._categories = {c.id: c for c in config.categories}
        # (received on, working days to target, warning days) -> (target, warning): most
        # enquiries arrive on a few recent days, so the day-by-day count is done once for each.
        self._dates: dict[tuple[date, int, int], tuple[date, date]] = {}

    def service_for(self, category_id: str, ward_id: str | None) -> ServiceDestination:
        category = self._categories.get(category_id)
        if category is None:
            raise InputError("category", unknown("category", category_id, self._categories))
        service_id = category.ward_services.get(ward_id or "", category.service)
        return self._services[service_id]

    def route(self, category_id: str, ward_id: str | None, received_at: datetime) -> Route:
        service = self.service_for(category_id, ward_id)
        received_on = self.calendar.local_date(received_at)
        return self.dates(service, received_on)

    def dates(self, service: ServiceDestination, received_on: date, extra_days: int = 0) -> Route:
        """Target and warning dates for ``service``, plus any agreed extension in working days."""
        days = service.response_days + extra_days
        warning_days = (
            service.warning_days
            if service.warning_days is not None
            else self.config.calendar.warning_days
        )
        key = (received_on, days, warning_days)
        dates = self._dates.get(key)
        if dates is None:
            target = self.calendar.add_working_days(received_on, days)
            warning = max(self.calendar.subtract_working_days(target, warning_days), received_on)
            if len(self._dates) >= _DATES_KEPT:
                self._dates.clear()  # bounded: a long-lived portal sees new days every day
            dates = self._dates[key] = (target, warning)
        return Route(service, received_on, *dates)
