"""The architecture as import contracts, checked by import-linter (pyproject.toml, [tool.importlinter]).

The contracts say what docs/architecture.md says: the domain imports nothing of HTTP; the JSON API,
the pages and the shared HTTP package reach the database only through domain functions; rendering
is a leaf; no package depends on one that depends back on it. They failed on the layout before
issue 15 (api and web importing each other, the PDF renderer importing issuance, the token cache
importing the domain).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

EXPECTED = {
    "layers": "Layers: entry points, HTTP, shared HTTP, domain, infrastructure, settings",
    "forbidden": "The domain knows nothing of HTTP, even indirectly",
    "acyclic_siblings": "No cycles between packages, at any depth",
}


def test_every_import_contract_is_kept() -> None:
    # lint_imports prints the broken contracts with the offending import chains (shown on failure).
    assert lint_imports(config_filename=str(PYPROJECT), no_cache=True) == 0


def test_the_contracts_are_still_there() -> None:
    """Deleting a contract would make the first test pass vacuously."""
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    names = {contract["name"] for contract in contracts}
    assert set(EXPECTED.values()) <= names
    assert {contract["type"] for contract in contracts} >= set(EXPECTED)
    assert len(contracts) >= 5
