"""JSON API v1 controllers: parse, guard, call one domain function, return a Struct."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.params import FromQuery, JSONBody

from pass_numerique.api.printing import PrintingController
from pass_numerique.api.reports import ReportController, StatementController
from pass_numerique.api.scanner import ScannerController
from pass_numerique.api.site_directory import SiteDirectoryController
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.accounts import authentication, users
from pass_numerique.domain.actors import Actor
from pass_numerique.domain.issuance import beneficiaries, data_rights, lifecycle, stock
from pass_numerique.domain.partners import sites, structures
from pass_numerique.domain.redemption import lookup, redeem, undo
from pass_numerique.domain.scheme import programmes, territories
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of, bearer_token, client_address
from pass_numerique.http.openapi import error_responses
from pass_numerique.http.parameters import (
    IdParameter,
    Limit,
    Offset,
    OptionalId,
    OptionalShortField,
    OptionalValue,
    PublicIdParameter,
    SerialParameter,
)
from pass_numerique.security.signing_keys import PublicKey, keyring

MAX_TOKEN_DAYS = 3660
"""A bearer token lives ten years at most (a date past year 9999 cannot be stored)."""


class LoginRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: bounds.Email
    password: bounds.Password


class LoginResponse(msgspec.Struct, kw_only=True):
    token: authentication.IssuedToken
    user: Actor


class TokenCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    label: bounds.Label
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOKEN_DAYS)] | None = None
    """Default ``PN_TOKEN_DEFAULT_DAYS`` (90); more than ``PN_TOKEN_MAX_DAYS`` (365) is refused."""


class PasswordChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    old_password: bounds.Password
    new_password: bounds.Password


class LookupRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: bounds.Scanned


class RefLookup(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    external_ref: bounds.Label


class ActiveFlag(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    active: bool


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/login", guards=[guards.public], status_code=200, responses=error_responses(401, 429))
    async def login(self, request: Request, data: JSONBody[LoginRequest]) -> LoginResponse:
        """Exchange an e-mail and password for a bearer token (valid 30 days, shown once).
        ``user.must_change_password``: the password is temporary, change it first (``/auth/password``)."""
        actor, token = await authentication.login(
            data.email, data.password, client_address=client_address(request)
        )
        return LoginResponse(token=token, user=actor)

    @post("/password", guards=[guards.TEMPORARY_PASSWORD], status_code=204)
    async def change_password(self, request: Request, data: JSONBody[PasswordChange]) -> None:
        """Change one's own password: every other token and session of the account is revoked,
        the token making the request stays valid."""
        await authentication.change_password(
            actor_of(request), data.old_password, data.new_password, keep_token=bearer_token(request)
        )

    @post("/logout", guards=[guards.TEMPORARY_PASSWORD], status_code=204)
    async def logout(self, request: Request) -> None:
        """Revoke the token making the request."""
        await authentication.revoke_current_token(actor_of(request), bearer_token(request) or "")

    @get("/me", guards=[guards.STAFF])
    async def me(self, request: Request) -> Actor:
        return actor_of(request)

    @get("/tokens", guards=[guards.STAFF])
    async def list_tokens(self, request: Request) -> list[authentication.TokenInfo]:
        return await authentication.list_tokens(actor_of(request))

    @post("/tokens", guards=[guards.STAFF])
    async def create_token(self, request: Request, data: JSONBody[TokenCreate]) -> authentication.IssuedToken:
        expires = timedelta(days=data.expires_in_days) if data.expires_in_days else None
        return await authentication.create_token(actor_of(request), data.label, expires)

    # Open with a temporary password too: it is how the scanner signs out.
    @delete("/tokens/{token_id:int}", guards=[guards.TEMPORARY_PASSWORD])
    async def revoke_token(self, request: Request, token_id: IdParameter) -> None:
        await authentication.revoke_token(actor_of(request), token_id)


class ReferenceController(Controller):
    path = "/api/v1"
    tags = ["reference data"]

    @get("/keys", guards=[guards.public])
    async def public_keys(self) -> list[PublicKey]:
        """Ed25519 public keys, for scanners that verify voucher codes offline."""
        return keyring().published()

    @get("/territories", guards=[guards.STAFF])
    async def list_territories(self) -> list[territories.TerritoryOut]:
        return await territories.list_territories()

    @post("/territories", guards=[guards.ADMIN])
    async def create_territory(
        self, request: Request, data: JSONBody[territories.TerritoryCreate]
    ) -> territories.TerritoryOut:
        return await territories.create_territory(actor_of(request), data)

    @get("/programmes", guards=[guards.STAFF])
    async def list_programmes(self) -> list[programmes.ProgrammeOut]:
        return await programmes.list_programmes()

    @post("/programmes", guards=[guards.ADMIN])
    async def create_programme(
        self, request: Request, data: JSONBody[programmes.ProgrammeCreate]
    ) -> programmes.ProgrammeOut:
        return await programmes.create_programme(actor_of(request), data)

    @post("/programmes/{programme_id:int}/extend-validity", guards=[guards.ADMIN], status_code=200)
    async def extend_validity(
        self, request: Request, programme_id: IdParameter, data: JSONBody[lifecycle.ExtendValidity]
    ) -> lifecycle.ExtendResult:
        """Push back the end of validity of the programme's booklets with unused vouchers."""
        return await lifecycle.extend_validity(actor_of(request), programme_id, data)

    @get("/sites", guards=[guards.STAFF])
    async def list_sites(self, request: Request, territory_id: OptionalId = None) -> list[sites.SiteOut]:
        return await sites.list_sites(actor_of(request), territory_id)

    @post("/sites", guards=[guards.MANAGERS])
    async def create_site(self, request: Request, data: JSONBody[sites.SiteCreate]) -> sites.SiteOut:
        return await sites.create_site(actor_of(request), data)

    @post("/sites/{site_id:int}/accreditation", guards=[guards.MANAGERS], status_code=200)
    async def accredit_site(
        self, request: Request, site_id: IdParameter, data: JSONBody[sites.Accreditation]
    ) -> sites.SiteOut:
        return await sites.set_accreditation(actor_of(request), site_id, data)

    @get("/structures", guards=[guards.STAFF])
    async def list_structures(self, request: Request) -> list[structures.StructureOut]:
        return await structures.list_structures(actor_of(request))

    @post("/structures", guards=[guards.MANAGERS])
    async def create_structure(
        self, request: Request, data: JSONBody[structures.StructureCreate]
    ) -> structures.StructureOut:
        return await structures.create_structure(actor_of(request), data)


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]

    @get("/", guards=[guards.ADMIN])
    async def list_users(self, request: Request) -> list[users.User]:
        return await users.list_users(actor_of(request))

    @post("/", guards=[guards.ADMIN])
    async def create_user(self, request: Request, data: JSONBody[users.UserCreate]) -> users.User:
        return await users.create_user(actor_of(request), data)

    @post("/{user_id:int}", guards=[guards.ADMIN], status_code=200)
    async def update_user(
        self, request: Request, user_id: IdParameter, data: JSONBody[users.UserUpdate]
    ) -> users.User:
        """A new name, role or scope; the person's sessions end so the new scope applies at once."""
        return await users.update_user(actor_of(request), user_id, data)

    @post("/{user_id:int}/active", guards=[guards.ADMIN], status_code=200)
    async def set_active(self, request: Request, user_id: IdParameter, data: JSONBody[ActiveFlag]) -> None:
        await users.set_active(actor_of(request), user_id, data.active)


class BeneficiaryController(Controller):
    path = "/api/v1/beneficiaries"
    tags = ["beneficiaries"]

    @post("/", guards=[guards.ISSUERS])
    async def create(
        self, request: Request, data: JSONBody[beneficiaries.BeneficiaryCreate]
    ) -> beneficiaries.BeneficiaryOut:
        return await beneficiaries.create_beneficiary(actor_of(request), data)

    @post("/find", guards=[guards.ISSUERS], status_code=200)
    async def find(self, request: Request, data: JSONBody[RefLookup]) -> beneficiaries.BeneficiaryOut:
        """Find by external reference; sent in the body so it never lands in a URL or log."""
        return await beneficiaries.find_by_external_ref(actor_of(request), data.external_ref)

    @get("/{public_id:str}/export", guards=[guards.ISSUERS])
    async def export(self, request: Request, public_id: PublicIdParameter) -> data_rights.BeneficiaryData:
        """Everything held on the beneficiary (RGPD right of access)."""
        return await data_rights.export_beneficiary(actor_of(request), public_id)

    @post("/{public_id:str}/erase", guards=[guards.ISSUERS], status_code=204)
    async def erase(self, request: Request, public_id: PublicIdParameter) -> None:
        """Erase the beneficiary's personal fields for good; anonymous counts stay (RGPD erasure)."""
        await data_rights.erase_beneficiary(actor_of(request), public_id)

    @get("/{public_id:str}", guards=[guards.ISSUERS])
    async def get_one(self, request: Request, public_id: PublicIdParameter) -> beneficiaries.BeneficiaryOut:
        return await beneficiaries.get_beneficiary(actor_of(request), public_id)


class BookletController(Controller):
    path = "/api/v1"
    tags = ["booklets"]

    @post("/booklets/issue", guards=[guards.ISSUERS])
    async def issue(self, request: Request, data: JSONBody[lifecycle.IssueRequest]) -> lifecycle.BookletOut:
        """Issue a new booklet to a new or existing beneficiary, in one atomic call."""
        return await lifecycle.issue_booklet(actor_of(request), data)

    @get("/booklets/{serial:str}", guards=[guards.ISSUERS])
    async def get_one(self, request: Request, serial: SerialParameter) -> lifecycle.BookletOut:
        return await lifecycle.get_booklet(actor_of(request), serial)

    @get("/booklets/{serial:str}/codes", guards=[guards.ISSUERS])
    async def codes(self, request: Request, serial: SerialParameter) -> list[lifecycle.VoucherCode]:
        """The printable codes (QR URL and short code) of each voucher; reading changes nothing."""
        return await lifecycle.booklet_codes(actor_of(request), serial)

    @post("/booklets/{serial:str}/assign", guards=[guards.ISSUERS], status_code=200)
    async def assign(
        self, request: Request, serial: SerialParameter, data: JSONBody[lifecycle.AssignRequest]
    ) -> lifecycle.BookletOut:
        """Hand a pre-printed booklet to a beneficiary."""
        return await lifecycle.assign_booklet(actor_of(request), serial, data)

    @post("/booklets/{serial:str}/cancel", guards=[guards.ISSUERS], status_code=200)
    async def cancel(
        self, request: Request, serial: SerialParameter, data: JSONBody[lifecycle.CancelRequest]
    ) -> lifecycle.CancelResult:
        """Cancel a lost or stolen booklet, optionally issuing its replacement."""
        return await lifecycle.cancel_booklet(actor_of(request), serial, data)

    @post("/print-runs", guards=[guards.MANAGERS])
    async def create_print_run(
        self, request: Request, data: JSONBody[stock.PrintRunCreate]
    ) -> stock.PrintRunOut:
        return await stock.create_print_run(actor_of(request), data)

    @get("/print-runs/{run_id:int}", guards=[guards.MANAGERS])
    async def get_print_run(self, request: Request, run_id: IdParameter) -> stock.PrintRunOut:
        return await stock.get_print_run(actor_of(request), run_id)

    @get("/stock/expiry", guards=[guards.MANAGERS])
    async def stock_expiry(
        self,
        request: Request,
        print_run_id: OptionalId = None,
        structure_id: OptionalId = None,
    ) -> stock.StockExpiry:
        """Unissued booklets of a print run or a structure expired or expiring soon."""
        return await stock.stock_expiry(
            actor_of(request), print_run_id=print_run_id, structure_id=structure_id
        )

    @post("/stock/revalidate", guards=[guards.MANAGERS], status_code=200)
    async def revalidate_stock(
        self, request: Request, data: JSONBody[stock.RevalidateRequest]
    ) -> stock.RevalidateResult:
        """A new end of validity for unissued stock that has expired or expires soon."""
        return await stock.revalidate_stock(actor_of(request), data)

    @post("/allocations", guards=[guards.MANAGERS], status_code=200)
    async def allocate(
        self, request: Request, data: JSONBody[stock.AllocateRequest]
    ) -> stock.AllocationResult:
        """Hand stock to a distributing structure, by count or serial range."""
        return await stock.allocate(actor_of(request), data)


class RedemptionController(Controller):
    path = "/api/v1"
    tags = ["redemption"]

    @post("/vouchers/lookup", guards=[guards.LOOKUP], status_code=200, responses=error_responses(429))
    async def lookup(self, request: Request, data: JSONBody[LookupRequest]) -> lookup.LookupResult:
        """A voucher's state and its booklet's remaining vouchers; changes nothing."""
        return await lookup.lookup(actor_of(request), data.code)

    @post("/redemptions", guards=[guards.SITE_AGENT], status_code=200, responses=error_responses(429))
    async def redeem(self, request: Request, data: JSONBody[redeem.RedeemRequest]) -> redeem.RedeemResult:
        """Redeem one or several vouchers of one booklet atomically; idempotent on ``request_id``."""
        return await redeem.redeem(actor_of(request), data)

    @get("/redemptions", guards=[guards.UNDO])
    async def list_redemptions(
        self,
        request: Request,
        day: FromQuery[date | None] = None,
        site_id: OptionalId = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[undo.RedemptionOut]:
        return await undo.list_redemptions(
            actor_of(request), day=day, site_id=site_id, limit=limit, offset=offset
        )

    @post("/redemptions/{redemption_id:int}/undo", guards=[guards.UNDO], status_code=200)
    async def undo(
        self, request: Request, redemption_id: IdParameter, data: JSONBody[undo.UndoRequest]
    ) -> undo.RedemptionOut:
        return await undo.undo_redemption(actor_of(request), redemption_id, data)


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]

    @get("/", guards=[guards.MANAGERS])
    async def list_events(
        self,
        request: Request,
        object_type: OptionalShortField = None,
        object_id: OptionalShortField = None,
        actor_id: OptionalId = None,
        action: OptionalValue = None,
        start: FromQuery[date | None] = None,
        end: FromQuery[date | None] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> audit.AuditPage:
        """Audit events, newest first (a coordinator: those of the people of its territories)."""
        flt = audit.AuditFilter(
            actor_id=actor_id,
            object_type=object_type,
            object_id=object_id,
            action=action,
            start=start,
            end=end,
        )
        return await audit.search(actor_of(request), flt, limit=limit, offset=offset)


class HealthController(Controller):
    path = "/healthz"
    include_in_schema = False

    @get("/", guards=[guards.public])
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}


CONTROLLERS = [
    SiteDirectoryController,
    AuthController,
    ReferenceController,
    UserController,
    BeneficiaryController,
    BookletController,
    RedemptionController,
    ScannerController,
    AuditController,
    HealthController,
    PrintingController,
    ReportController,
    StatementController,
]
