"""The config's access section: staff groups and sharing arrangements, each mistake named
with its file, line and field, and what a principal may see worked out from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_bridge.access.policy import UserRole, principal_for, sharing_audience, staff_scope
from crm_bridge.config import load_config
from crm_bridge.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = (REPO / "config.example.yaml").read_text(encoding="utf-8")
START = EXAMPLE.index("\naccess:\n") + 1
END = EXAMPLE.index("# --- Elected members")


def with_access(tmp_path: Path, block: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(EXAMPLE[:START] + block + "\n" + EXAMPLE[END:], encoding="utf-8")
    return path


def line_of(path: Path, text: str) -> int:
    return path.read_text(encoding="utf-8").splitlines().index(text) + 1


@pytest.mark.parametrize(("block", "bad_line", "says"), [
    ("access:\n  staff_groups:\n    - id: office\n      name: Office\n"
     "      members: [mp-angus-tuloch]\n",
     "      members: [mp-angus-tuloch]",
     "access.staff_groups[0].members[0]: unknown member 'mp-angus-tuloch' (did you mean "
     "'mp-angus-tulloch'?)"),
    ("access:\n  staff_groups:\n    - id: office\n      name: A\n    - id: office\n"
     "      name: B\n",
     "    - id: office",
     "access.staff_groups[0].id: duplicate id 'office'"),
    ("access:\n  sharing:\n    - member: mp-angus-tulloch\n"
     "      shared_with: [mp-angus-tulloch]\n",
     "      shared_with: [mp-angus-tulloch]",
     "access.sharing[0].shared_with[0]: 'mp-angus-tulloch' is the member sharing"),
    ("access:\n  sharing:\n    - member: mp-angus-tulloch\n"
     "      shared_with: [cllr-iain-tennant]\n    - member: mp-angus-tulloch\n"
     "      shared_with: [cllr-kirsty-dalgleish]\n",
     "    - member: mp-angus-tulloch",
     "access.sharing[1].member: 'mp-angus-tulloch' already has an arrangement"),
    ("access:\n  sharing:\n    - member: mp-angus-tulloch\n      shared_with: []\n",
     "      shared_with: []",
     "access.sharing[0].shared_with:"),
    ("access:\n  staf_groups: []\n",
     "  staf_groups: []",
     "access.staf_groups: unknown key 'staf_groups' (did you mean 'staff_groups'?)"),
])
def test_mistakes_are_located(tmp_path: Path, block: str, bad_line: str, says: str) -> None:
    path = with_access(tmp_path, block)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert says in message
    expected_line = line_of(path, bad_line)
    if "already has" in says:  # the second entry's line
        expected_line = [i + 1 for i, text in enumerate(path.read_text().splitlines())
                         if text == bad_line][1]
    assert f"config.yaml:{expected_line} " in message


def test_without_access_staff_work_for_every_councillor_only(tmp_path: Path) -> None:
    config = load_config(with_access(tmp_path, "")).config
    scope = staff_scope(config, "members-services")
    assert len(scope) == 18 and "mp-angus-tulloch" not in scope
    assert staff_scope(config, "no-such-group") == frozenset()
    assert sharing_audience(config, "mp-angus-tulloch") == []
    assert [m.id for m in sharing_audience(config, "cllr-euan-lochhead")] == [
        "cllr-morag-kinnaird", "cllr-alasdair-baird", "cllr-fiona-rennie"]


def test_an_arrangement_reaches_the_members_it_names(tmp_path: Path) -> None:
    config = load_config(with_access(tmp_path, (
        "access:\n  sharing:\n    - member: mp-angus-tulloch\n"
        "      shared_with: [cllr-iain-tennant, msp-eilidh-brodie]\n"))).config
    iain = principal_for(config, user_id=1, username="iain", name="Iain", role=UserRole.MEMBER,
                         member_id="cllr-iain-tennant", staff_group=None, session_id="t")
    assert iain.direct_sharers == {"mp-angus-tulloch"}
    assert "cllr-kirsty-dalgleish" in iain.ward_sharers
    admin = principal_for(config, user_id=2, username="a", name="A", role=UserRole.ADMIN,
                          member_id="cllr-iain-tennant", staff_group="members-services",
                          session_id="t")
    assert not admin.sees_enquiries and admin.scope == frozenset()
