"""The wheel a council installs works on its own: built from this checkout, installed into a
fresh virtual environment outside the repository, and run from a folder outside it too.

`init` must find the example config and the mappings inside the installed package
(``crm_bridge/_data``), because a council's server has no source checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cli_support import REPO, add_args

pytestmark = pytest.mark.slow

DATA_FILES = ("crm_bridge/_data/config.example.yaml", "crm_bridge/_data/mappings/local.yaml")


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)], cwd=dist)
    (built,) = dist.glob("crm_bridge-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new environment holding the wheel and its declared dependencies, nothing else."""
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(root)], cwd=root)
    _run([str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
         cwd=root)
    return root


def _clean_env(venv: Path) -> dict[str, str]:
    """The environment of a shell with only the new venv on PATH: nothing from the repo."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CRM_BRIDGE_CONFIG", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"
    env["VIRTUAL_ENV"] = str(venv)
    return env


def test_wheel_carries_the_example_config_mappings_and_migrations(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in DATA_FILES:
            assert name in names
        assert archive.read(DATA_FILES[0]) == (REPO / "config.example.yaml").read_bytes()
        assert archive.read(DATA_FILES[1]) == (REPO / "mappings" / "local.yaml").read_bytes()
        shipped = {f"crm_bridge/_data/mappings/{p.name}" for p in (REPO / "mappings").glob("*")}
        assert shipped <= names
        assert "crm_bridge/store/migrations/env.py" in names
        assert "crm_bridge/store/migrations/script.py.mako" in names
        versions = {f"crm_bridge/store/migrations/versions/{p.name}"
                    for p in (REPO / "crm_bridge/store/migrations/versions").glob("*.py")}
        assert versions and versions <= names
        assert "connectors/local.py" in names
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        text = archive.read(entry_points).decode()
        assert "crm-bridge = crm_bridge.cli:main" in text
        assert "local = connectors.local:LocalConnector" in text
        assert not [n for n in names if n.startswith(("tests/", "bench/"))]


def test_installed_package_finds_its_data_inside_itself(venv: Path, tmp_path: Path) -> None:
    probe = (
        "import json, crm_bridge, connectors\n"
        "from crm_bridge.resources import data_dir, example_config, shipped_mapping\n"
        "print(json.dumps({'package': crm_bridge.__file__, 'connectors': connectors.__file__,"
        " 'data': str(data_dir()), 'example': str(example_config()),"
        " 'mapping': str(shipped_mapping('local'))}))\n"
    )
    done = _run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, env=_clean_env(venv))
    found = {key: Path(value) for key, value in json.loads(done.stdout).items()}
    package = found["package"].parent
    assert package.parent.name == "site-packages"
    assert package.is_relative_to(venv)
    assert found["connectors"].is_relative_to(venv)
    assert found["data"] == package / "_data"
    assert found["example"] == package / "_data" / "config.example.yaml"
    assert found["mapping"] == package / "_data" / "mappings" / "local.yaml"
    assert not any(path.is_relative_to(REPO) for path in found.values())


def test_installed_cli_runs_init_check_add_sync(venv: Path, tmp_path: Path) -> None:
    work = tmp_path / "server"
    work.mkdir()
    env = _clean_env(venv)
    crm_bridge = str(venv / "bin" / "crm-bridge")

    def run(*args: str) -> str:
        done = _run([crm_bridge, *args], cwd=work, env=env, timeout=120)
        assert "Traceback" not in done.stderr
        return done.stdout

    assert run("--version").startswith("crm-bridge, version ")
    run("init", "council")
    package = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / \
        "site-packages" / "crm_bridge" / "_data"
    written = (work / "council" / "config.yaml").read_text(encoding="utf-8")
    assert written.replace("  transport: folder  # .eml files in mail/; smtp once a mail server "
                           "is set below\n", "  transport: smtp\n") == (
        package / "config.example.yaml").read_text(encoding="utf-8")
    assert (work / "council" / "mappings" / "local.yaml").read_bytes() == (
        package / "mappings" / "local.yaml").read_bytes()

    config = ["--config", "council/config.yaml"]
    assert ": OK: Clackmannanshire Council, 5 wards" in run(*config, "check-config")
    added = run(*config, "enquiry", "add", *add_args(category="fly-tipping"))
    assert "logged: routed to Waste and recycling" in added
    assert run(*config, "sync").startswith("sync: pushed 1,")
    assert "ENQ-" in run(*config, "officer", "queue")
    assert json.loads(run(*config, "db", "status", "--json"))["up_to_date"] is True
