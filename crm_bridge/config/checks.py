"""Cross-reference checks pydantic cannot do field by field: ids unique, every id named exists."""

from __future__ import annotations

from collections import Counter

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.config.yamlsource import LocatedData
from crm_bridge.errors import ConfigIssue
from crm_bridge.models import Role
from crm_bridge.suggest import unknown

__all__ = ["cross_reference_issues"]


def cross_reference_issues(config: CouncilConfig, source: LocatedData) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for section in ("members", "wards", "services", "categories"):
        items = getattr(config, section)
        counts = Counter(item.id for item in items)
        for index, item in enumerate(items):
            if counts[item.id] > 1:
                issues.append(
                    source.issue(
                        (section, index, "id"),
                        f"duplicate id '{item.id}': every entry in {section} needs its own id",
                    )
                )
    member_ids = {m.id for m in config.members}
    ward_ids = {w.id for w in config.wards}
    service_ids = {s.id for s in config.services}
    seats: dict[str, str] = {}
    for w_index, ward in enumerate(config.wards):
        for m_index, member_id in enumerate(ward.members):
            path = ("wards", w_index, "members", m_index)
            member = config.member(member_id)
            if member is None:
                issues.append(source.issue(path, unknown("member", member_id, member_ids)))
            elif member.role is not Role.COUNCILLOR:
                issues.append(
                    source.issue(
                        path,
                        f"'{member_id}' is an {member.role.value.upper()}: only councillors "
                        "sit for a ward; remove them from the ward's members",
                    )
                )
            elif member_id in seats:
                issues.append(
                    source.issue(
                        path,
                        f"'{member_id}' already sits for ward '{seats[member_id]}': "
                        "a councillor belongs to one ward",
                    )
                )
            else:
                seats[member_id] = ward.id
    for m_index, member in enumerate(config.members):
        if member.role is Role.COUNCILLOR and member.id not in seats:
            issues.append(
                source.issue(
                    ("members", m_index, "id"),
                    f"councillor '{member.id}' is in no ward: add them to one ward's members",
                )
            )
    for c_index, category in enumerate(config.categories):
        if category.service not in service_ids:
            issues.append(
                source.issue(
                    ("categories", c_index, "service"),
                    unknown("service", category.service, service_ids),
                )
            )
        for ward_id, service_id in category.ward_services.items():
            override = ("categories", c_index, "ward_services", ward_id)
            if ward_id not in ward_ids:
                issues.append(source.issue(override, unknown("ward", ward_id, ward_ids)))
            if service_id not in service_ids:
                issues.append(source.issue(override, unknown("service", service_id, service_ids)))
    issues.extend(_access_issues(config, source, member_ids))
    for s_index, service in enumerate(config.services):
        warning = service.warning_days
        if warning is not None and warning >= service.response_days:
            issues.append(
                source.issue(
                    ("services", s_index, "warning_days"),
                    f"{warning} is not fewer than response_days ({service.response_days}): "
                    "the heads-up must come before the deadline",
                )
            )
    issues += _retention_issues(config, source, service_ids)
    issues += _area_issues(config, source, ward_ids)
    issues += _deadline_issues(config, source)
    issues += _related_category_issues(config, source)
    return issues


def _related_category_issues(config: CouncilConfig,
                             source: LocatedData) -> list[ConfigIssue]:
    """duplicates.related_categories: every id is a category, once in its group."""
    issues: list[ConfigIssue] = []
    category_ids = {c.id for c in config.categories}
    for g_index, group in enumerate(config.duplicates.related_categories):
        seen: set[str] = set()
        for c_index, category_id in enumerate(group):
            path = ("duplicates", "related_categories", g_index, c_index)
            if category_id not in category_ids:
                issues.append(source.issue(path, unknown("category", category_id,
                                                         category_ids)))
            elif category_id in seen:
                issues.append(source.issue(path, f"'{category_id}' is already in this group: "
                                           "list each category once"))
            seen.add(category_id)
    return issues


def _deadline_issues(config: CouncilConfig, source: LocatedData) -> list[ConfigIssue]:
    """A CRM call under way when the run's deadline passes is not cut short: its timeouts
    (``timeout_seconds`` plus ``connect_timeout_seconds``, where the connector has them)
    must end well inside the deadline, or one slow call outlasts the run."""
    options = config.connector.options()
    read, connect = options.get("timeout_seconds"), options.get("connect_timeout_seconds")
    given = [v for v in (read, connect) if isinstance(v, int | float) and not isinstance(v, bool)]
    deadline = config.sync.deadline_seconds
    if not given or sum(given) * 2 <= deadline:
        return []
    key = "timeout_seconds" if read is not None else "connect_timeout_seconds"
    return [source.issue(("connector", key), (
        f"a CRM call may take {sum(given):g} s (timeout_seconds plus connect_timeout_seconds),"
        f" more than half of sync.deadline_seconds ({deadline:g} s): lower it, or raise the "
        "deadline (keeping it below the cron interval)"))]


def _area_issues(config: CouncilConfig, source: LocatedData,
                 ward_ids: set[str]) -> list[ConfigIssue]:
    """reports.areas: ids unique, every ward named exists and is in one area only."""
    issues: list[ConfigIssue] = []
    areas = config.reports.areas
    counts = Counter(area.id for area in areas)
    placed: dict[str, str] = {}
    for a_index, area in enumerate(areas):
        if counts[area.id] > 1:
            issues.append(source.issue(("reports", "areas", a_index, "id"),
                                       f"duplicate id '{area.id}': every area needs its own id"))
        for w_index, ward_id in enumerate(area.wards):
            path = ("reports", "areas", a_index, "wards", w_index)
            if ward_id not in ward_ids:
                issues.append(source.issue(path, unknown("ward", ward_id, ward_ids)))
            elif ward_id in placed:
                issues.append(source.issue(path, f"ward '{ward_id}' is already in area "
                                           f"'{placed[ward_id]}': a ward belongs to one area"))
            else:
                placed[ward_id] = area.id
    return issues


def _retention_issues(config: CouncilConfig, source: LocatedData,
                      service_ids: set[str]) -> list[ConfigIssue]:
    """Every id in retention.services and retention.categories must exist."""
    retention = config.retention
    category_ids = {c.id for c in config.categories}
    issues = [source.issue(("retention", "services", service_id),
                           unknown("service", service_id, service_ids))
              for service_id in retention.services if service_id not in service_ids]
    issues += [source.issue(("retention", "categories", category_id),
                            unknown("category", category_id, category_ids))
               for category_id in retention.categories if category_id not in category_ids]
    return issues


def _access_issues(config: CouncilConfig, source: LocatedData,
                   member_ids: set[str]) -> list[ConfigIssue]:
    """Staff groups and sharing arrangements name members that exist, each once."""
    issues: list[ConfigIssue] = []
    access = config.access
    counts = Counter(group.id for group in access.staff_groups)
    for g_index, group in enumerate(access.staff_groups):
        if counts[group.id] > 1:
            issues.append(source.issue(("access", "staff_groups", g_index, "id"),
                                       f"duplicate id '{group.id}': every staff group needs "
                                       "its own id"))
        for m_index, member_id in enumerate(group.members):
            if member_id not in member_ids:
                issues.append(source.issue(("access", "staff_groups", g_index, "members",
                                            m_index), unknown("member", member_id, member_ids)))
    arranged: dict[str, int] = {}
    for s_index, arrangement in enumerate(access.sharing):
        path = ("access", "sharing", s_index)
        if arrangement.member not in member_ids:
            issues.append(source.issue((*path, "member"),
                                       unknown("member", arrangement.member, member_ids)))
        elif arrangement.member in arranged:
            issues.append(source.issue(
                (*path, "member"), f"'{arrangement.member}' already has an arrangement "
                f"(sharing[{arranged[arrangement.member]}]): list everyone in that one"))
        else:
            arranged[arrangement.member] = s_index
        for w_index, other in enumerate(arrangement.shared_with):
            where = (*path, "shared_with", w_index)
            if other not in member_ids:
                issues.append(source.issue(where, unknown("member", other, member_ids)))
            elif other == arrangement.member:
                issues.append(source.issue(where, f"'{other}' is the member sharing: list "
                                           "only the other members who may see the enquiries"))
    return issues
