"""The Piccolo app: our tables (the domain's persistence model) and their migrations.

The migrations live in ``piccolo_migrations/`` at the top of the repository, shipped as the
package ``pass_numerique.piccolo_migrations`` (pyproject's package-dir mapping), so an installed
wheel finds them too.
"""

from importlib import resources

from piccolo.conf.apps import AppConfig, table_finder

MIGRATIONS_DIR = resources.files("pass_numerique.piccolo_migrations")

APP_CONFIG = AppConfig(
    app_name="pass_numerique",
    migrations_folder_path=str(MIGRATIONS_DIR),
    table_classes=table_finder(modules=["pass_numerique.domain.tables"], exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
