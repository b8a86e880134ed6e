"""The Piccolo app: our tables and the migrations kept at the top of the repository."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "piccolo_migrations"

APP_CONFIG = AppConfig(
    app_name="pass_numerique",
    migrations_folder_path=str(MIGRATIONS_DIR),
    table_classes=table_finder(modules=["pass_numerique.domain.tables"], exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
