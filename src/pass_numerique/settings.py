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

    payer_name: str = "Conseil départemental"
    """Who pays the partner sites' statements, printed on each statement (page and PDF), e.g.
    ``Département de la Charente``."""

    payer_address: str = ""
    """The payer's postal address on one line, printed under its name on statements."""

    timezone: str = "Europe/Paris"
    """Local time zone: days, months and reimbursement periods are counted in it."""

    production: bool = False
    """Production mode: refuses the default secret and an ``http://`` public URL, marks cookies
    Secure, sends ``Strict-Transport-Security``."""

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

    token_default_days: int = 90
    """Lifetime of an API token created without an expiry."""

    token_max_days: int = 365
    """Longest lifetime an API token may be given; a longer one is refused (422)."""

    attempt_window_seconds: int = 300
    """The sliding window in which failed look-ups and redemptions are counted."""

    max_failed_attempts_per_agent: int = 30
    """Failed look-ups and redemptions one account may make within the window before 429."""

    max_failed_attempts_per_site: int = 100
    """Failed look-ups and redemptions all the agents of one site may make within the window."""

    scan_log_keep_days: int = 365
    """How long ``pass-numerique prune`` keeps the scan log (every look-up and redemption attempt)."""

    login_window_seconds: int = 900
    """The sliding window in which failed sign-ins are counted."""

    max_login_failures_per_account: int = 5
    """Failed sign-ins on one account within the window before the clients that failed on it wait."""

    max_login_failures_per_client: int = 20
    """Failed sign-ins from one client address (any accounts) within the window before it waits."""

    stock_expiry_warning_days: int = 60
    """Unissued stock whose validity ends within this many days is flagged on the print-run and
    structure pages (expired stock always is), so it is handed out or re-validated in time."""

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
        if self.production and not self.public_url.startswith("https://"):
            raise SettingsError(
                f"PN_PUBLIC_URL must start with https:// in production (it is {self.public_url!r}): "
                "it is printed in every voucher's QR code, and the staff sign in there."
            )
        if self.production and self.argon2_profile == "cheapest":
            raise SettingsError("PN_ARGON2_PROFILE=cheapest is for test suites, never for production.")
        if not 1 <= self.token_default_days <= self.token_max_days:
            raise SettingsError("PN_TOKEN_DEFAULT_DAYS must be between 1 and PN_TOKEN_MAX_DAYS.")
        limits = (
            self.attempt_window_seconds,
            self.max_failed_attempts_per_agent,
            self.max_failed_attempts_per_site,
            self.login_window_seconds,
            self.max_login_failures_per_account,
            self.max_login_failures_per_client,
        )
        if min(limits) < 1:
            raise SettingsError("The abuse limits (PN_MAX_*, PN_*_WINDOW_SECONDS) must be at least 1.")
        if self.scan_log_keep_days * 86400 < self.attempt_window_seconds:
            raise SettingsError("PN_SCAN_LOG_KEEP_DAYS must cover PN_ATTEMPT_WINDOW_SECONDS.")
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
