"""The packages a council installs work on their own: the wheel and the sdist, built from
this checkout, each installed into a fresh virtual environment outside the repository, and
run from a folder outside it too.

`init` must find the example config and the mappings inside the installed package
(``crm_bridge/_data``), because a council's server has no source checkout; `serve` must
find the portal's built assets there, because the server has no npm either (the sdist is
installed with npm off the PATH). Optional parts are extras: a config that needs one that
is missing gets the install command in one line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cli_support import REPO, add_args

pytestmark = pytest.mark.slow

DATA_FILES = ("crm_bridge/_data/config.example.yaml", "crm_bridge/_data/mappings/local.yaml")
VENDOR = "crm_bridge/portal/static/vendor"
ASSETS = ("portal.css", "govuk-frontend.min.js", "govuk-frontend.package.json")
SECRET = "a session secret for the installed portal, 40+"


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The wheel and the sdist, each built from this checkout."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)], cwd=out)
    _run([sys.executable, "-m", "build", "--sdist", "--outdir", str(out), str(REPO)], cwd=out)
    (wheel,) = out.glob("crm_bridge-*.whl")
    (sdist,) = out.glob("crm_bridge-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def wheel(dist: dict[str, Path]) -> Path:
    return dist["wheel"]


@pytest.fixture(scope="module", params=["wheel", "sdist"])
def venv(request: pytest.FixtureRequest, dist: dict[str, Path],
         tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new environment holding the package (from the wheel, or built by pip from the
    sdist) and its declared dependencies, nothing else; npm is not on the PATH."""
    root = tmp_path_factory.mktemp(f"venv-{request.param}")
    _run([sys.executable, "-m", "venv", str(root)], cwd=root)
    env = {**_clean_env(root), "PATH": str(root / "bin")}
    _run([str(root / "bin" / "python"), "-m", "pip", "install", "--quiet",
          str(dist[request.param])], cwd=root, env=env)
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
        for asset in ASSETS:  # the portal's built assets, as `make assets` built them here
            assert archive.read(f"{VENDOR}/{asset}") == (REPO / VENDOR / asset).read_bytes()
        assert f"{VENDOR}/axe.min.js" not in names  # for the accessibility tests only
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        requires = [line for line in metadata.decode().splitlines()
                    if line.startswith("Requires-Dist:")]
        core = [line for line in requires if "extra ==" not in line]
        assert not [line for line in core if re.search(r"zeep|lxml|psycopg", line)]
        assert any(line.startswith("Requires-Dist: rapidfuzz") for line in core)  # search
        assert any("zeep" in line and "extra == 'lagan'" in line for line in requires)
        assert any("lxml" in line and "extra == 'lagan'" in line for line in requires)
        assert any("psycopg" in line and "extra == 'postgres'" in line for line in requires)


def test_shipped_assets_are_built_from_the_pinned_front_end_packages(wheel: Path) -> None:
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]
    with zipfile.ZipFile(wheel) as archive:
        shipped = json.loads(archive.read(f"{VENDOR}/govuk-frontend.package.json"))
        css = archive.read(f"{VENDOR}/portal.css")
    assert shipped["name"] == "govuk-frontend"
    assert shipped["version"] == pinned["govuk-frontend"]
    assert b".govuk-header" in css and b"GDS Transport" not in css


def test_sdist_carries_the_built_assets_and_what_checks_them(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as archive:
        root = archive.getnames()[0].split("/")[0]
        names = {name.removeprefix(f"{root}/") for name in archive.getnames()}
        for asset in (*ASSETS, ".build-stamp"):
            assert f"{VENDOR}/{asset}" in names
        stamp = archive.extractfile(f"{root}/{VENDOR}/.build-stamp")
        assert stamp is not None
        assert stamp.read() == (REPO / VENDOR / ".build-stamp").read_bytes()
    for name in ("hatch_build.py", "package.json", "package-lock.json",
                 "scripts/build-assets.sh", "crm_bridge/portal/assets/portal.scss"):
        assert name in names
    assert not [n for n in names if n.startswith(("node_modules/", ".venv/"))]


def test_a_fresh_checkout_builds_its_assets_into_the_wheel(tmp_path: Path) -> None:
    """`pip install .` from a clone that never ran `make install`: the build hook runs
    scripts/build-assets.sh (npm from the npm registry) before packing the wheel."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    clone = tmp_path / "clone"
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    assert not (clone / VENDOR).exists()
    out = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(clone)],
         cwd=tmp_path)
    (built,) = out.glob("crm_bridge-*.whl")
    with zipfile.ZipFile(built) as archive:
        for asset in ASSETS:
            assert archive.read(f"{VENDOR}/{asset}") == (REPO / VENDOR / asset).read_bytes()


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def council(venv: Path, tmp_path: Path) -> Path:
    """A council folder made by the installed `crm-bridge init`, outside the repository."""
    work = tmp_path / "server"
    work.mkdir()
    _run([str(venv / "bin" / "crm-bridge"), "init", "council"], cwd=work, env=_clean_env(venv))
    return work / "council"


@pytest.fixture
def portal(venv: Path, council: Path) -> Iterator[str]:
    """`crm-bridge serve` from the installed package on a free port; its base URL."""
    port = _free_port()
    env = {**_clean_env(venv), "CRM_BRIDGE_SESSION_SECRET": SECRET}
    log = council / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(venv / "bin" / "crm-bridge"), "--config", "config.yaml", "serve",
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=council, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a guard against hanging, not a speed check
        while True:
            assert server.poll() is None, f"serve exited:\n{log.read_text()}"
            try:
                requests.get(f"{base}/sign-in", timeout=5)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"serve never answered:\n{log.read_text()}")
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "Traceback" not in log.read_text()


CONTENT_TYPES = {".css": "text/css", ".js": "javascript", ".mjs": "javascript",
                 ".svg": "image/svg+xml"}


def test_installed_package_serves_the_portal_and_its_assets(portal: str) -> None:
    page = requests.get(f"{portal}/sign-in", timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'name="username"' in page.text
    linked = sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)))
    assert "/static/vendor/portal.css" in linked
    for path in linked:
        asset = requests.get(f"{portal}{path}", timeout=30)
        assert asset.status_code == 200, path
        assert asset.content, path
        assert CONTENT_TYPES[Path(path).suffix] in asset.headers["content-type"], path
    css = requests.get(f"{portal}/static/vendor/portal.css", timeout=30)
    assert css.content == (REPO / VENDOR / "portal.css").read_bytes()
    assert css.headers["content-type"].startswith("text/css")
    script = requests.get(f"{portal}/static/vendor/govuk-frontend.min.js", timeout=30)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]


def _check_config(venv: Path, council: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "crm-bridge"), "--config", "config.yaml",
                           "check-config"], cwd=council, env=_clean_env(venv),
                          capture_output=True, text=True, timeout=120, check=False)


def _has(venv: Path, module: str) -> bool:
    probe = f"import importlib.util; print(importlib.util.find_spec({module!r}) is not None)"
    done = _run([str(venv / "bin" / "python"), "-c", probe], cwd=venv, env=_clean_env(venv))
    return done.stdout.strip() == "True"


def test_a_missing_extra_is_named_with_its_install_command(venv: Path, council: Path) -> None:
    for module in ("zeep", "lxml", "psycopg"):
        assert not _has(venv, module), f"{module} came with the core install"
    config = council / "config.yaml"
    original = config.read_text()
    config.write_text(original.replace("  type: local\n", "  type: lagan\n", 1))
    done = _check_config(venv, council)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert re.search(r"config\.yaml:\d+ connector\.type: the lagan connector needs "
                     r"(zeep and lxml|lxml and zeep): pip install 'crm-bridge\[lagan\]'$",
                     line), line

    config.write_text(original.replace(
        "url: sqlite:///crm-bridge.db", "url: postgresql://bridge@127.0.0.1:5432/council", 1))
    done = _check_config(venv, council)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.endswith("the PostgreSQL store needs psycopg: "
                         "pip install 'crm-bridge[postgres]'"), line

    # With the extra installed (pip reads it from the installed package's own metadata),
    # the lagan connector loads and check-config moves on to its settings. This changes
    # the module's venv, so it stays the last test of the file.
    config.write_text(original.replace("  type: local\n", "  type: lagan\n", 1))
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
          "crm-bridge[lagan]"], cwd=council, env={**_clean_env(venv), "PATH": str(venv / "bin")})
    assert _has(venv, "zeep") and _has(venv, "lxml") and not _has(venv, "psycopg")
    done = _check_config(venv, council)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "needs" not in done.stderr
    assert "connector.url" in done.stderr, done.stderr
