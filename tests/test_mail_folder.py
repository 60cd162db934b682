"""`smtp.transport: folder`: the council sees each message as an .eml file, with no mail server."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

from click.testing import CliRunner

from crm_bridge.cli import cli


def _council(tmp_path: Path) -> Path:
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(tmp_path / "council")]).exit_code == 0
    config = tmp_path / "council" / "config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("  transport: smtp\n", "  transport: folder\n"),
                      encoding="utf-8")
    return config


def test_notify_test_writes_the_message_into_the_folder(tmp_path: Path) -> None:
    config = _council(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(config), "notify", "test",
                                      "officer@clacks.example.gov.uk"])
    assert result.exit_code == 0, result.output
    written = sorted((config.parent / "mail").glob("*.eml"))
    assert len(written) == 1
    message = message_from_bytes(written[0].read_bytes())
    assert message["To"] == "officer@clacks.example.gov.uk"
    assert message["X-Envelope-To"] == "officer@clacks.example.gov.uk"
    assert "folder" in result.output


def test_an_unwritable_folder_leaves_messages_waiting(tmp_path: Path) -> None:
    config = _council(tmp_path)
    (config.parent / "mail").write_text("not a folder", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "notify", "test",
                                      "officer@clacks.example.gov.uk"])
    assert result.exit_code != 0
    assert "cannot write mail into" in result.output
