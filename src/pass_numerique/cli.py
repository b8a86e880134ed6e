"""The ``pass-numerique`` command: serve, migrate, create-admin, demo,
rotate-key, print-booklet, print-run, prune and refresh-reports."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from pass_numerique.domain.actors import SYSTEM
from pass_numerique.domain.errors import DomainError
from pass_numerique.settings import get_settings


def _migrate(_: argparse.Namespace) -> None:
    from pass_numerique.migrations import migrate

    asyncio.run(migrate())


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from pass_numerique.http.server import NoDelayHttpToolsProtocol

    settings = get_settings()
    uvicorn.run(
        "pass_numerique.asgi:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        proxy_headers=True,
        # With --workers > 1 uvicorn binds the socket itself (proto 0) and asyncio then leaves
        # Nagle on: every keep-alive response waited ~40 ms for a delayed ACK.
        http=NoDelayHttpToolsProtocol,
        loop="uvloop",
        # Access logs would print voucher tokens from /v/… URLs: keep them off.
        access_log=False,
    )


def _create_admin(args: argparse.Namespace) -> None:
    from pass_numerique.domain.accounts import users
    from pass_numerique.domain.actors import Role

    password = sys.stdin.readline().strip() if args.password_stdin else getpass.getpass("Mot de passe : ")
    user = asyncio.run(
        users.create_user(
            SYSTEM,
            users.UserCreate(email=args.email, display_name=args.name, role=Role.admin, password=password),
        )
    )
    print(f"Compte administrateur créé : {user.email} (id {user.id})")


def _demo(args: argparse.Namespace) -> None:
    from pass_numerique import demo

    async def run() -> list[demo.DemoLogin] | None:
        if not await demo.is_empty():
            return None
        return await demo.load()

    logins = asyncio.run(run())
    if logins is None:
        print("La base contient déjà des données : jeu de démonstration non chargé.")
        logins = demo.logins()
    else:
        print("Jeu de démonstration chargé.")
    print("\nComptes de démonstration (mot de passe identique pour tous) :")
    for login in logins:
        print(f"  {login.role:<12} {login.email:<42} {login.password}   ({login.scope})")


def _rotate_key(_: argparse.Namespace) -> None:
    from pathlib import Path

    from pass_numerique.security.signing_keys import create_key

    kid = create_key(Path(get_settings().keys_dir))
    print(f"Nouvelle clé de signature k{kid} : les nouveaux chèques l'utiliseront. Gardez les anciennes.")


def _print_booklet(args: argparse.Namespace) -> None:
    from pathlib import Path

    from pass_numerique.domain.printing import print_jobs

    data = asyncio.run(print_jobs.booklet_pdf(SYSTEM, args.serial))
    Path(args.output).write_bytes(data)
    print(f"Carnet {args.serial.strip()} : {args.output}")


def _progress_bar(done: int, total: int, width: int = 40) -> None:
    """Draw ``[#####-----]  42 %  420/1000 carnets`` in place on stderr."""
    filled = width * done // max(total, 1)
    percent = 100 * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {percent:3d} %  {done}/{total} carnets")
    sys.stderr.flush()


def _print_run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from pass_numerique.domain.printing import print_jobs

    pdf_path = Path(args.output)
    manifest = Path(args.manifest) if args.manifest else pdf_path.with_suffix(".csv")

    async def progress(done: int, total: int) -> None:
        _progress_bar(done, total)

    result = asyncio.run(print_jobs.render_print_run(args.run_id, pdf_path, manifest, progress=progress))
    sys.stderr.write("\n")
    print(f"Tirage {args.run_id} : {result.booklets} carnets, {result.pages} pages → {pdf_path}")
    print(f"Liste des numéros de carnets : {manifest}")


def _prune(args: argparse.Namespace) -> None:
    from pass_numerique.domain import retention

    result = asyncio.run(retention.prune(keep_days=args.keep_days))
    print(
        f"Purge : {result.idempotency_records} réponses mémorisées, "
        f"{result.login_failures} échecs de connexion et {result.scan_attempts} tentatives de scan "
        "supprimés."
    )


def _refresh_reports(args: argparse.Namespace) -> None:
    from pass_numerique.domain.reports import booklet_rollups, redemption_rollups

    redemptions = asyncio.run(redemption_rollups.fold())
    booklets = asyncio.run(booklet_rollups.fold())
    if args.vacuum or redemptions.redemptions + booklets.booklets >= 10_000:
        asyncio.run(redemption_rollups.vacuum_after_bulk_fold())
    print(
        f"Agrégats des rapports : {redemptions.redemptions} encaissements en {redemptions.seconds:.1f} s, "
        f"{booklets.booklets} carnets en {booklets.seconds:.1f} s."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pass-numerique", description="Pass numérique service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(func=_migrate)
    serve = commands.add_parser("serve", help="serve HTTP")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.set_defaults(func=_serve)
    admin = commands.add_parser("create-admin", help="create an administrator account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True)
    admin.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    admin.set_defaults(func=_create_admin)
    commands.add_parser("demo", help="load demo data into an empty database").set_defaults(func=_demo)
    commands.add_parser("rotate-key", help="add a new voucher signing key").set_defaults(func=_rotate_key)
    booklet_pdf = commands.add_parser("print-booklet", help="write the print-ready PDF of one booklet")
    booklet_pdf.add_argument("serial", help="booklet serial, e.g. 16-2026-000123")
    booklet_pdf.add_argument("-o", "--output", required=True, help="PDF file to write")
    booklet_pdf.set_defaults(func=_print_booklet)
    run_pdf = commands.add_parser("print-run", help="write one PDF and a CSV manifest for a whole print run")
    run_pdf.add_argument("run_id", type=int, help="print run id")
    run_pdf.add_argument("-o", "--output", required=True, help="PDF file to write")
    run_pdf.add_argument("--manifest", help="CSV manifest to write (default: the PDF name with .csv)")
    run_pdf.set_defaults(func=_print_run)
    prune = commands.add_parser("prune", help="delete expired technical records (run it daily)")
    prune.add_argument("--keep-days", type=int, default=90, help="idempotency records to keep (days)")
    prune.set_defaults(func=_prune)
    refresh = commands.add_parser(
        "refresh-reports",
        help="fold new redemptions and changed booklets into the report rollups (the server: every minute)",
    )
    refresh.add_argument(
        "--vacuum",
        action="store_true",
        help="PostgreSQL: vacuum and analyse the report tables even after a small fold (after an upgrade)",
    )
    refresh.set_defaults(func=_refresh_reports)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except DomainError as exc:  # a refusal by the rules: its French message, no traceback
        sys.exit(f"Erreur : {exc.message}")


if __name__ == "__main__":
    main()
