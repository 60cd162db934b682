"""load_config on real files: the example loads, and every mistake is reported as file:line path.

Each test starts from config.example.yaml, breaks one thing with a text edit,
and checks the exact line a council's IT admin would read.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import yaml

from crm_bridge.config import LoadedConfig, load_config
from crm_bridge.errors import ConfigError
from crm_bridge.models import Role

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.yaml"


@pytest.fixture(scope="module")
def example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


def replace_once(text: str, old: str, new: str) -> str:
    """Edit the example in one place, failing loudly if the example no longer matches."""
    assert text.count(old) == 1, f"expected exactly one {old!r} in the example"
    return text.replace(old, new)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``needle``."""
    hits = [number for number, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} occurs {len(hits)} times"
    return hits[occurrence - 1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, environ: dict[str, str] | None = None) -> LoadedConfig:
    return load_config(path, environ={} if environ is None else environ)


def error_lines(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    """The lines of the ConfigError message, as check-config prints them."""
    with pytest.raises(ConfigError) as info:
        load(path, environ)
    return str(info.value).splitlines()


# --- the example ---------------------------------------------------------------


def test_example_loads_as_shipped() -> None:
    loaded = load(EXAMPLE)
    config = loaded.config
    roles = Counter(m.role for m in config.members)
    assert roles == {Role.COUNCILLOR: 18, Role.MP: 1, Role.MSP: 1}
    assert len(config.wards) == 5
    assert [w.name for w in config.wards] == [
        "Clackmannanshire West",
        "Clackmannanshire North",
        "Clackmannanshire Central",
        "Clackmannanshire South",
        "Clackmannanshire East",
    ]
    assert all(3 <= len(w.members) <= 4 for w in config.wards)
    assert sum(len(w.members) for w in config.wards) == 18
    assert len(config.categories) >= 14
    assert len(config.services) >= 9


def test_example_matches_the_case_study(example_text: str, tmp_path: Path) -> None:
    config = load(write(tmp_path, example_text)).config
    councillors = [m for m in config.members if m.role is Role.COUNCILLOR]
    assert Counter(m.party for m in councillors) == {
        "Labour": 8,
        "SNP": 7,
        "Conservative": 1,
        "Independent": 1,
        "Scottish Liberal Democrat": 1,
    }
    assert all(m.id.startswith("cllr-") for m in councillors)
    assert all(config.ward_of(m.id) is not None for m in councillors)
    assert config.ward_of("mp-angus-tulloch") is None
    assert config.ward_of("msp-eilidh-brodie") is None
    assert {s.response_days for s in config.services} >= {5, 10, 15, 20}
    assert any(c.ward_services for c in config.categories)
    emails = [s.contact for s in config.services] + [m.email or "" for m in councillors]
    assert all(e.endswith("@clacks.example.gov.uk") for e in emails)
    assert config.calendar.bank_holidays == "GB-SCT"
    assert date(2026, 12, 29) in config.calendar.closure_days
    assert date(2027, 12, 31) in config.calendar.closure_days


def test_example_connector_store_and_smtp(example_text: str, tmp_path: Path) -> None:
    loaded = load(write(tmp_path, example_text))
    config = loaded.config
    assert config.connector.type == "local"
    assert config.connector.options() == {"path": "local-crm.db"}
    assert loaded.store_url == f"sqlite:///{tmp_path.resolve() / 'crm-bridge.db'}"
    assert loaded.resolve("local-crm.db") == tmp_path.resolve() / "local-crm.db"
    assert config.smtp.host == "127.0.0.1"
    assert config.smtp.port == 25
    assert config.smtp.security == "starttls"
    assert config.smtp.allow_plaintext_password is False
    assert config.smtp.password is not None
    assert config.smtp.password.get_secret_value() == ""


def test_missing_file_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file.*crm-bridge init"):
        load(tmp_path / "nope.yaml")


# --- the environment -------------------------------------------------------------


def test_secret_comes_from_environ(example_text: str, tmp_path: Path) -> None:
    config = load(write(tmp_path, example_text), environ={"SMTP_PASSWORD": "s3cret"}).config
    assert config.smtp.password is not None
    assert config.smtp.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config.smtp)


def test_variable_set_in_environ_is_substituted(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "  host: 127.0.0.1", "  host: ${SMTP_HOST}")
    config = load(write(tmp_path, text), environ={"SMTP_HOST": "relay.clacks.example"}).config
    assert config.smtp.host == "relay.clacks.example"


def test_variable_inside_a_longer_value(example_text: str, tmp_path: Path) -> None:
    text = replace_once(
        example_text,
        "  url: sqlite:///crm-bridge.db",
        "  url: postgresql+psycopg://bridge:${DB_PASSWORD}@db.internal/crm_bridge",
    )
    config = load(write(tmp_path, text), environ={"DB_PASSWORD": "pw"}).config
    assert config.store.url == "postgresql+psycopg://bridge:pw@db.internal/crm_bridge"


def test_default_used_when_variable_unset(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "  host: 127.0.0.1", "  host: ${SMTP_HOST:-mail.internal}")
    path = write(tmp_path, text)
    assert load(path).config.smtp.host == "mail.internal"
    assert load(path, environ={"SMTP_HOST": "other"}).config.smtp.host == "other"


def test_interpolated_number_is_still_checked(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "  port: 25", "  port: ${SMTP_PORT:-25}")
    path = write(tmp_path, text)
    assert load(path).config.smtp.port == 25
    lines = error_lines(path, environ={"SMTP_PORT": "twenty-five"})
    assert lines == [
        f"{path}:{line_of(text, 'port: ${SMTP_PORT')} smtp.port: must be a whole "
        "number (got 'twenty-five')"
    ]


def test_missing_variable_names_it_and_the_line(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "  password: ${SMTP_PASSWORD:-}", "  password: ${SMTP_PASS}")
    path = write(tmp_path, text)
    lines = error_lines(path)
    assert lines == [
        f"{path}:{line_of(text, 'password: ${SMTP_PASS}')} smtp.password: environment "
        "variable SMTP_PASS is not set: export SMTP_PASS=... before running, "
        "or write ${SMTP_PASS:-default}"
    ]


# --- YAML itself -------------------------------------------------------------------


def test_malformed_yaml_reports_the_line(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "    label: Fly-tipping\n", "    label: Fly-tipping: bins\n")
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, 'Fly-tipping: bins')} not valid YAML: "
        "mapping values are not allowed here"
    ]


def test_bad_indentation_reports_the_line(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "  port: 25\n", "  port: 25\n   security: none\n")
    path = write(tmp_path, text)
    (line,) = error_lines(path)
    assert line.startswith(f"{path}:{line_of(text, 'port: 25') + 1} not valid YAML: ")


@pytest.mark.parametrize("content", ["", "\n\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, content)
    assert error_lines(path) == [f"{path}:1 the file is empty"]


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- council\n- members\n")
    (line,) = error_lines(path)
    assert line.startswith(f"{path}:1 the file must be a mapping of sections")


def test_duplicate_yaml_key(example_text: str, tmp_path: Path) -> None:
    text = replace_once(
        example_text, "  reference_prefix: ENQ\n", "  reference_prefix: ENQ\n  name: Other\n"
    )
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, '  name: Other')} council.name: 'name' appears twice: keep one"
    ]


@pytest.mark.parametrize(
    "tagged",
    [
        '!!python/object/apply:os.system ["touch {marker}"]',
        "!!python/object:builtins.dict {{}}",
        "!!python/name:os.system ''",
        "!custom Clackmannanshire",
    ],
)
def test_python_tags_are_refused(example_text: str, tmp_path: Path, tagged: str) -> None:
    marker = tmp_path / "pwned"
    value = tagged.format(marker=marker)
    text = replace_once(example_text, "  name: Clackmannanshire Council", f"  name: {value}")
    path = write(tmp_path, text)
    shown = value.split()[0]
    assert error_lines(path) == [
        f"{path}:{line_of(text, value)} council.name: the tag {shown} is not allowed: "
        "this file holds plain settings only; remove the tag"
    ]
    assert not marker.exists()


# --- unknown keys ------------------------------------------------------------------


def test_unknown_top_level_key_suggests(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "\ncategories:\n", "\ncategries:\n")
    path = write(tmp_path, text)
    lines = error_lines(path)
    assert (
        f"{path}:{line_of(text, 'categries:')} categries: unknown key 'categries' "
        "(did you mean 'categories'?)"
    ) in lines
    assert any(line.endswith(" categories: is required but missing: add it") for line in lines)


def test_unknown_nested_key_suggests(example_text: str, tmp_path: Path) -> None:
    # services[2] is waste, the only service with response_days: 5.
    text = replace_once(example_text, "    response_days: 5\n", "    respons_days: 5\n")
    path = write(tmp_path, text)
    lines = error_lines(path)
    assert (
        f"{path}:{line_of(text, 'respons_days: 5')} services[2].respons_days: "
        "unknown key 'respons_days' (did you mean 'response_days'?)"
    ) in lines
    assert (
        f"{path}:{line_of(text, '  - id: waste')} services[2].response_days: "
        "is required but missing: add it"
    ) in lines


def test_unknown_key_in_a_section(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "  security: starttls\n", "  securty: starttls\n")
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, 'securty')} smtp.securty: unknown key 'securty' "
        "(did you mean 'security'?)"
    ]


def test_a_login_over_plain_smtp_is_refused_unless_the_config_says_so(
    example_text: str, tmp_path: Path
) -> None:
    plain = replace_once(example_text, "  security: starttls\n", "  security: none\n")
    text = replace_once(plain, "  # username: crm-bridge\n", "  username: crm-bridge\n")
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, 'smtp:')} smtp: security: none would send the password of "
        "'crm-bridge' in clear text: use security: starttls (or ssl), or, only for a relay on "
        "a network you trust, set allow_plaintext_password: true"
    ]
    allowed = replace_once(text, "  username: crm-bridge\n",
                           "  username: crm-bridge\n  allow_plaintext_password: true\n")
    assert load(write(tmp_path, allowed)).config.smtp.allow_plaintext_password is True
    # Without a login there is no password to protect: a local relay over none is fine.
    assert load(write(tmp_path, plain)).config.smtp.security == "none"


def test_connector_accepts_its_own_keys(example_text: str, tmp_path: Path) -> None:
    text = replace_once(
        example_text, "  path: local-crm.db\n", "  path: local-crm.db\n  mapping: local.yaml\n"
    )
    config = load(write(tmp_path, text)).config
    assert config.connector.mapping == "local.yaml"
    assert config.connector.options() == {"path": "local-crm.db"}


# --- field values --------------------------------------------------------------------


def test_invalid_role(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "    role: mp\n", "    role: member\n")
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, 'role: member')} members[18].role: must be one of "
        "'councillor', 'mp', 'msp' or 'mep' (got 'member')"
    ]


def test_invalid_email(example_text: str, tmp_path: Path) -> None:
    text = replace_once(
        example_text, "email: fiona.rennie@clacks.example.gov.uk", "email: fiona.rennie"
    )
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, 'email: fiona.rennie')} members[2].email: "
        "must be an e-mail address like name@council.gov.uk"
    ]


def test_invalid_notify(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "    notify: never\n", "    notify: weekly\n")
    path = write(tmp_path, text)
    (line,) = error_lines(path)
    assert line.startswith(f"{path}:{line_of(text, 'notify: weekly')} members[7].notify: ")
    assert line.endswith("(got 'weekly')")


def test_warning_days_not_before_deadline(example_text: str, tmp_path: Path) -> None:
    # waste: response_days 5, warning_days 1.
    text = replace_once(example_text, "    warning_days: 1\n", "    warning_days: 5\n")
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, '    warning_days: 5')} services[2].warning_days: 5 is not "
        "fewer than response_days (5): the heads-up must come before the deadline"
    ]


def test_unknown_timezone(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "timezone: Europe/London", "timezone: Europe/Londn")
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, 'Europe/Londn')} council.timezone: unknown timezone "
        "'Europe/Londn': use an IANA name such as Europe/London"
    ]


def test_unknown_bank_holiday_region(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "bank_holidays: GB-SCT", "bank_holidays: GB-SC")
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, 'bank_holidays: GB-SC')} calendar.bank_holidays: unknown bank "
        "holiday region 'GB-SC': use a country and region such as GB-SCT, GB-ENG, GB-WLS "
        "or GB-NIR"
    ]


def test_impossible_closure_date(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "    - 2026-12-30\n", "    - 2026-02-30\n")
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, '2026-02-30')} calendar.closure_days[1]: '2026-02-30' is not "
        "a real date (day is out of range for month): write YYYY-MM-DD"
    ]


def test_closure_day_that_is_not_a_date(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "    - 2026-12-30\n", "    - 30 December\n")
    path = write(tmp_path, text)
    (line,) = error_lines(path)
    assert line.startswith(f"{path}:{line_of(text, '30 December')} calendar.closure_days[1]: ")


def test_bad_ward_services_key(example_text: str, tmp_path: Path) -> None:
    # The first of the two housing overrides: categories[4] (housing-repair).
    override = "      clacks-north: housing-repairs-hillfoots"
    text = example_text.replace(override, "      Clacks-North: housing-repairs-hillfoots", 1)
    path = write(tmp_path, text)
    (line,) = error_lines(path)
    assert line.startswith(
        f"{path}:{line_of(text, 'Clacks-North')} categories[4].ward_services.Clacks-North: "
    )


# --- cross-references -------------------------------------------------------------------


def test_category_names_unknown_service(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "    service: lighting\n", "    service: lightin\n")
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, 'service: lightin')} categories[1].service: "
        "unknown service 'lightin' (did you mean 'lighting'?)"
    ]


def test_ward_services_unknown_ward_and_service(example_text: str, tmp_path: Path) -> None:
    override = "      clacks-north: housing-repairs-hillfoots"
    text = example_text.replace(override, "      clacks-nrth: housing-repairs-hilfoots", 1)
    path = write(tmp_path, text)
    where = f"{path}:{line_of(text, 'clacks-nrth')} categories[4].ward_services.clacks-nrth:"
    assert error_lines(path) == [
        f"{where} unknown ward 'clacks-nrth' (did you mean 'clacks-north'?)",
        f"{where} unknown service 'housing-repairs-hilfoots' "
        "(did you mean 'housing-repairs-hillfoots'?)",
    ]


def test_ward_names_unknown_member(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "      - cllr-fiona-rennie\n", "      - cllr-fiona-renie\n")
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, '- cllr-fiona-renie')} wards[0].members[2]: "
        "unknown member 'cllr-fiona-renie' (did you mean 'cllr-fiona-rennie'?)",
        f"{path}:{line_of(text, 'id: cllr-fiona-rennie')} members[2].id: "
        "councillor 'cllr-fiona-rennie' is in no ward: add them to one ward's members",
    ]


def test_mp_listed_in_a_ward(example_text: str, tmp_path: Path) -> None:
    text = replace_once(
        example_text,
        "      - cllr-rhona-galbraith\n",
        "      - cllr-rhona-galbraith\n      - mp-angus-tulloch\n",
    )
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, '      - mp-angus-tulloch')} wards[4].members[3]: "
        "'mp-angus-tulloch' is an MP: only councillors sit for a ward; "
        "remove them from the ward's members"
    ]


def test_councillor_in_two_wards(example_text: str, tmp_path: Path) -> None:
    text = replace_once(
        example_text,
        "      - cllr-rhona-galbraith\n",
        "      - cllr-rhona-galbraith\n      - cllr-morag-kinnaird\n",
    )
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, '      - cllr-morag-kinnaird', 2)} wards[4].members[3]: "
        "'cllr-morag-kinnaird' already sits for ward 'clacks-west': "
        "a councillor belongs to one ward"
    ]


def test_councillor_in_no_ward(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "      - cllr-neil-cochrane\n", "")
    path = write(tmp_path, text)
    assert error_lines(path) == [
        f"{path}:{line_of(text, 'id: cllr-neil-cochrane')} members[14].id: "
        "councillor 'cllr-neil-cochrane' is in no ward: add them to one ward's members"
    ]


def test_duplicate_ids(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "  - id: abandoned-vehicle\n", "  - id: gritting\n")
    path = write(tmp_path, text)
    message = "duplicate id 'gritting': every entry in categories needs its own id"
    assert error_lines(path) == [
        f"{path}:{line_of(text, 'id: gritting', 1)} categories[12].id: {message}",
        f"{path}:{line_of(text, 'id: gritting', 2)} categories[14].id: {message}",
    ]


def test_duplicate_member_id(example_text: str, tmp_path: Path) -> None:
    text = replace_once(
        example_text, "  - id: cllr-neil-cochrane\n", "  - id: cllr-lorna-strachan\n"
    )
    path = write(tmp_path, text)
    lines = error_lines(path)
    assert (
        f"{path}:{line_of(text, 'id: cllr-lorna-strachan', 2)} members[14].id: duplicate id "
        "'cllr-lorna-strachan': every entry in members needs its own id"
    ) in lines


# --- several problems at once ---------------------------------------------------------------


def test_every_field_error_is_reported(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "timezone: Europe/London", "timezone: Mars/Olympus")
    text = replace_once(text, "    role: mp\n", "    role: member\n")
    text = replace_once(text, "email: fiona.rennie@clacks.example.gov.uk", "email: fiona.rennie")
    text = replace_once(text, "    response_days: 5\n", "    respons_days: 5\n")
    text = replace_once(text, "  port: 25\n", "  port: 0\n")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    found = {(issue.line, issue.path) for issue in info.value.issues}
    assert found == {
        (line_of(text, "Mars/Olympus"), "council.timezone"),
        (line_of(text, "role: member"), "members[18].role"),
        (line_of(text, "email: fiona.rennie"), "members[2].email"),
        (line_of(text, "respons_days: 5"), "services[2].respons_days"),
        (line_of(text, "- id: waste"), "services[2].response_days"),
        (line_of(text, "  port: 0"), "smtp.port"),
    }
    assert len(str(info.value).splitlines()) == len(found)


def test_every_cross_reference_error_is_reported(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "    service: lighting\n", "    service: lightin\n")
    text = replace_once(text, "      - cllr-neil-cochrane\n", "")
    text = replace_once(text, "    warning_days: 1\n", "    warning_days: 9\n")
    text = replace_once(text, "  - id: traffic-calming\n", "  - id: gritting\n")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    found = [(issue.line, issue.path) for issue in info.value.issues]
    assert sorted(found) == sorted(
        [
            (line_of(text, "id: cllr-neil-cochrane"), "members[14].id"),
            (line_of(text, "service: lightin"), "categories[1].service"),
            (line_of(text, "warning_days: 9"), "services[2].warning_days"),
            (line_of(text, "id: gritting", 1), "categories[12].id"),
            (line_of(text, "id: gritting", 2), "categories[13].id"),
            # The related categories named the renamed one.
            (line_of(text, "- [pothole, traffic-calming]"),
             "duplicates.related_categories[0][1]"),
            (line_of(text, "- [street-lighting, traffic-calming]"),
             "duplicates.related_categories[1][1]"),
        ]
    )


def test_every_yaml_level_error_is_reported(example_text: str, tmp_path: Path) -> None:
    text = replace_once(example_text, "  host: 127.0.0.1", "  host: ${SMTP_HOST}")
    text = replace_once(text, "    - 2026-12-30\n", "    - 2026-02-30\n")
    text = replace_once(text, "  reference_prefix: ENQ\n", "  reference_prefix: ENQ\n  name: X\n")
    path = write(tmp_path, text)
    lines = error_lines(path)
    assert [line.split(" ", 2)[:2] for line in lines] == [
        [f"{path}:{line_of(text, '  name: X')}", "council.name:"],
        [f"{path}:{line_of(text, '2026-02-30')}", "calendar.closure_days[1]:"],
        [f"{path}:{line_of(text, 'SMTP_HOST')}", "smtp.host:"],
    ]


def test_edited_example_still_round_trips_through_yaml(example_text: str, tmp_path: Path) -> None:
    """A config rewritten by a tool (comments lost) loads the same as the original."""
    data = yaml.safe_load(example_text)
    data["members"] = [m for m in data["members"] if m["id"] != "msp-eilidh-brodie"]
    for group in data["access"]["staff_groups"]:
        group["members"] = [m for m in group["members"] if m != "msp-eilidh-brodie"]
    path = write(tmp_path, yaml.safe_dump(data, sort_keys=False))
    config = load(path).config
    assert config.member("msp-eilidh-brodie") is None
    assert len(config.members) == 19
