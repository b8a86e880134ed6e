"""The wheel, built from this checkout and installed alone in a fresh virtual environment, holds
every file of the package, migrates an empty database and serves the phone page, its static files
and the API: what an installed service does, with nothing of the checkout on its path.

How, and why so:

- **Build**: ``pip wheel --no-deps --no-build-isolation --no-index`` with the test environment's
  setuptools (the ``test`` extra asks for the version pyproject's build-system names), about 3 s
  and no network. Build isolation would fetch setuptools from the package index at every run.
  It builds from a copy of the checkout: setuptools keeps a ``build/`` folder in the source tree
  and packs what it holds, so a module deleted since the last build would still ship and hide
  the very mistakes this test looks for.
- **Fresh environment**: ``python -m venv --without-pip`` (0.1 s against 7 s with pip), the
  wheel installed into it by the test environment's pip (``pip --python``). Its dependencies are
  the test environment's, reached through one ``.pth`` line: installing them from the index took
  30 s and 240 MB with a warm cache, for packages the rest of the suite already exercises. A path
  added by a ``.pth`` line is only appended to ``sys.path``: the ``.pth`` files inside it, among them
  the editable install of this checkout, are not run, so ``pass_numerique`` can only come from the
  wheel (checked).
- It runs once, on SQLite: it tests packaging, not the engine.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import ENGINE

pytestmark = pytest.mark.skipif(
    ENGINE == "postgres", reason="tests packaging, not the database engine: it runs once, on SQLite"
)

ROOT = Path(__file__).resolve().parents[1]
# Folders of the checkout that are not sources of the package: generated, local, or the
# repository's own tools.
NOT_COPIED = {".git", ".venv", "build", "dist", "var", ".pytest_cache", ".ruff_cache", ".hypothesis"}
NOT_COPIED |= {"node_modules", "tests", "bench", "docs"}
# Folders of the checkout and where the package-dir mapping puts them in the wheel.
SHIPPED = {
    ROOT / "src" / "pass_numerique": "pass_numerique",
    ROOT / "static": "pass_numerique/static",
    ROOT / "piccolo_migrations": "pass_numerique/piccolo_migrations",
}
PYTHON_WARNING = re.compile(r"\b\w*Warning: ")


def run_command(command: list[str | Path], **options) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **options)  # noqa: S603
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def source_files(folder: Path) -> Iterator[Path]:
    """Every file of a source folder, without what running it leaves behind (bytecode)."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def _ignore(folder: str, names: list[str]) -> set[str]:
    ignored = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".egg-info"))}
    return ignored | (NOT_COPIED & set(names) if Path(folder) == ROOT else set())


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel built from a copy of the checkout, and the build's output."""
    checkout = tmp_path_factory.mktemp("checkout") / "pass-numerique"
    shutil.copytree(ROOT, checkout, ignore=_ignore)
    dist = tmp_path_factory.mktemp("dist")
    pip_wheel = ["pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir"]
    result = run_command([sys.executable, "-m", *pip_wheel, dist, checkout])
    (wheel,) = dist.glob("pass_numerique-*.whl")
    return wheel, result.stdout + result.stderr


def test_the_build_warns_of_nothing(build: tuple[Path, str]) -> None:
    """Data folders declared as data: setuptools sees no package it was not told about."""
    _, output = build
    assert not PYTHON_WARNING.findall(output), output


def test_the_wheel_holds_every_file_of_the_package_and_nothing_else(build: tuple[Path, str]) -> None:
    wheel, _ = build
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"{inside}/{path.relative_to(folder).as_posix()}"
        for folder, inside in SHIPPED.items()
        for path in source_files(folder)
    }
    assert sorted(expected - names) == []
    dist_info = {n for n in names if n.startswith("pass_numerique-0.1.0.dist-info/")}
    assert sorted(names - expected - dist_info) == []

    # The comparison above is only as good as the folders it walked: the data is there.
    migrations = sorted(
        n for n in names if re.fullmatch(r"pass_numerique/piccolo_migrations/m\d{4}_\w+\.py", n)
    )
    assert len(migrations) == len(list((ROOT / "piccolo_migrations").glob("m*.py"))) >= 30
    for data in [
        "pass_numerique/templates/scan/index.html",
        "pass_numerique/templates/staff/login.html",
        "pass_numerique/fonts/DejaVuSans.ttf",
        "pass_numerique/data/coop-value-lists.json",
        "pass_numerique/static/scan/app.js",
        "pass_numerique/static/vendor/dsfr/dsfr.min.css",
    ]:
        assert data in names
    entry_points = zipfile.ZipFile(wheel).read("pass_numerique-0.1.0.dist-info/entry_points.txt").decode()
    assert "pass-numerique = pass_numerique.cli:main" in entry_points


@pytest.fixture
def installed(build: tuple[Path, str], tmp_path: Path) -> Path:
    """A fresh virtual environment with the wheel installed; returns its bin/ folder."""
    wheel, _ = build
    venv = tmp_path / "venv"
    run_command([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    site_packages = run_command([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(site_packages.stdout.strip(), "test-environment-dependencies.pth").write_text(
        "\n".join(sorted(ours)) + "\n"
    )
    run_command(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            wheel,
        ]
    )
    return venv / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_installed_wheel_migrates_an_empty_database_and_serves(installed: Path, tmp_path: Path) -> None:
    home = tmp_path / "service"
    home.mkdir()
    database = home / "pass-numerique.sqlite3"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PN_") and k not in {"PYTHONPATH", "PYTHONHOME"}
    }
    env |= {"PN_DATABASE_URL": f"sqlite:///{database}", "PN_KEYS_DIR": str(home / "keys")}

    where = run_command(
        [
            installed / "python",
            "-c",
            "import pass_numerique, pass_numerique.static as s, pass_numerique.piccolo_migrations as m; "
            "print(pass_numerique.__file__, *s.__path__, *m.__path__, sep='\\n')",
        ],
        cwd=home,
        env=env,
    )
    assert all(Path(p).is_relative_to(installed.parent) for p in where.stdout.split()), where.stdout

    run_command([installed / "pass-numerique", "migrate"], cwd=home, env=env)
    with sqlite3.connect(database) as db:
        applied = db.execute("SELECT COUNT(*) FROM migration WHERE app_name = 'pass_numerique'").fetchone()[0]
    assert applied == len(list((ROOT / "piccolo_migrations").glob("m*.py")))
    assert list((home / "keys").glob("*.pem"))

    port = free_port()
    log = home / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(  # noqa: S603
            [installed / "pass-numerique", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    page = http.get("/scan")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)

            assert page.status_code == 200, log.read_text()
            assert "<title>Encaisser un chèque – Pass numérique</title>" in page.text
            assert "/static/scan/app.js" in page.text
            for path in ["scan/app.js", "vendor/dsfr/dsfr.min.css"]:
                served = http.get(f"/static/{path}")
                assert served.status_code == 200
                assert served.content == (ROOT / "static" / path).read_bytes()

            worker = http.get("/scan-sw.js")
            assert worker.status_code == 200
            assert worker.headers["content-type"].startswith("text/javascript")
            assert "const CACHE = `pn-scan-${VERSION}`;" in worker.text and "__VERSION__" not in worker.text

            login = http.get("/staff/login")
            assert login.status_code == 200 and "/static/vendor/dsfr/dsfr.min.css" in login.text

            schema = http.get("/schema/openapi.json")
            assert schema.status_code == 200 and "/api/v1/auth/me" in schema.json()["paths"]
            anonymous = http.get("/api/v1/auth/me")
            assert anonymous.status_code == 401 and anonymous.json()["code"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
