"""Typed configuration, read once from ``PN_*`` environment variables.

Every field has a safe default for the embedded mode (one SQLite file, a key
directory next to it), so ``make run`` needs no configuration at all.
Production mode refuses to start with the default secret.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import msgspec

DEFAULT_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - the known default we refuse in production


class SettingsError(RuntimeError):
    """Raised when the configuration is unsafe or inconsistent."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Service configuration; each field maps to ``PN_<FIELD NAME IN CAPITALS>``."""

    database_url: str = "sqlite:///var/pass-numerique.sqlite3"
    """``sqlite:///relative/or/absolute/path`` or ``postgresql://user:pass@host:port/db``."""

    secret_key: str = DEFAULT_SECRET
    """Keys sessions, CSRF and the keyed hash of beneficiaries' external references."""

    keys_dir: str = "var/keys"
    """Folder holding the Ed25519 signing keys (``<kid>.pem``); never stored in the database."""

    public_url: str = "http://127.0.0.1:8000"
    """Base URL printed in voucher QR codes (``{public_url}/v/{token}``)."""

    departement_code: str = "16"
    """Département number, the first part of every booklet serial (``16-2026-000123``)."""

    timezone: str = "Europe/Paris"
    """Local time zone: days, months and reimbursement periods are counted in it."""

    production: bool = False
    """Production mode: refuses the default secret, marks cookies Secure."""

    agent_undo_minutes: int = 10
    """How long a site agent may undo their own redemption."""

    db_pool_size: int = 10
    """PostgreSQL connection pool size per worker process."""

    print_dir: str = "var/prints"
    """Folder where print-run PDFs and their CSV manifests are written."""

    print_scheme_name: str = "Pass numérique"
    """Name printed on booklet covers and coupons."""

    print_logo: str = ""
    """Path to a PNG or JPEG logo for booklet covers; empty for the neutral default logo."""

    argon2_profile: Literal["rfc_9106_low_memory", "cheapest"] = "rfc_9106_low_memory"
    """Argon2id parameters of new password hashes: RFC 9106's low-memory profile (64 MiB, 3 passes),
    or argon2-cffi's ``cheapest`` profile, meant for test suites only and refused in production."""

    report_fold_seconds: int = 60
    """How often each server worker folds new redemptions and changed booklets into the report
    rollups (0: never; reports stay exact either way, they only read more rows)."""

    token_cache_seconds: int = 30
    """How long a server worker may reuse a bearer token's account without reading it again
    (PostgreSQL only; any change to accounts or tokens empties the cache of the worker making it
    at once and every other worker's within milliseconds; 0: read it at every request).
    See security/token_cache.py."""

    operator_name: str = "Conseil départemental"
    """Who runs the service (the département), named on the public legal pages."""

    operator_address: str = ""
    """The operator's postal address (mentions légales)."""

    publication_director: str = ""
    """The director of publication (mentions légales): usually the département's president."""

    hosting_provider: str = ""
    """Who hosts the service: name and address (mentions légales)."""

    contact_email: str = ""
    """Where people write about the service, their personal data or its accessibility."""

    accessibility_status: Literal["non conforme", "partiellement conforme", "totalement conforme"] = (
        "non conforme"
    )
    """The RGAA compliance shown in every page's footer: « non conforme » until an audit says otherwise."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///").removeprefix("sqlite://"))

    def check(self) -> None:
        """Refuse configurations that would be unsafe to serve."""
        if self.production and self.secret_key == DEFAULT_SECRET:
            raise SettingsError("PN_SECRET_KEY must be set to a long random value in production.")
        if self.production and len(self.secret_key) < 32:
            raise SettingsError("PN_SECRET_KEY must be at least 32 characters long in production.")
        if self.production and self.argon2_profile == "cheapest":
            raise SettingsError("PN_ARGON2_PROFILE=cheapest is for test suites, never for production.")
        if not (self.is_sqlite or self.database_url.startswith(("postgresql://", "postgres://"))):
            raise SettingsError("PN_DATABASE_URL must start with sqlite:/// or postgresql://")


def _from_environment(environ: dict[str, str]) -> Settings:
    raw: dict[str, object] = {}
    for field in msgspec.structs.fields(Settings):
        value = environ.get(f"PN_{field.name.upper()}")
        if value is not None:
            raw[field.name] = value
    # strict=False turns "true"/"8000" strings into the declared types.
    return msgspec.convert(raw, Settings, strict=False)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    settings = _from_environment(dict(os.environ))
    settings.check()
    return settings
