"""The database's schema against the migrations this version of the code ships with.

The service never creates or alters a table by itself: Alembic does (`make migrate`), so that
every change of the tables is a revision someone reviewed, and that `copier update` changing a
model never touches the data behind it. At start-up the service checks that the database is at
the newest revision and stops, naming the command to run, if it is not. With AUTO_MIGRATE=1 it
upgrades the database first (for development, tests, and instances that upgrade themselves:
on PostgreSQL they take turns, one upgrades and the others then find nothing to do).
"""

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from .repository.opening import DatabaseUnavailableError

MIGRATIONS = Path(__file__).with_name("migrations")
UPGRADE_LOCK = 0x6D696772  # PostgreSQL advisory lock held by the instance that upgrades
log = logging.getLogger(__name__)
FIX = "run `make migrate` (or start once with AUTO_MIGRATE=1)"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's settings without alembic.ini: what the service needs inside its package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def newest() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def upgrade(connection: Connection) -> None:
    """Bring the database to the newest revision, within the caller's transaction."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
    before = current(connection)
    command.upgrade(alembic_config(connection), "heads")
    after = current(connection)
    if after != before:
        was = ", ".join(sorted(before)) or "none"
        log.info(
            "database upgraded to revision %s (was %s)",
            ", ".join(sorted(after)),
            was,
            extra={"event": "migrate"},
        )


def prepare(connection: Connection, auto_migrate: bool) -> None:
    """Upgrade if asked, then refuse a database whose schema is not this code's."""
    scripts = ScriptDirectory.from_config(alembic_config())
    unknown = current(connection) - {script.revision for script in scripts.walk_revisions()}
    if unknown:
        raise DatabaseUnavailableError(
            f"the database (DATABASE_URL) is at revision {', '.join(sorted(unknown))}, which "
            "this version does not know (a newer one migrated it): run that version instead"
        )
    if auto_migrate:
        upgrade(connection)
    found, needed = current(connection), set(scripts.get_heads())
    if found != needed:
        at = f"revision {', '.join(sorted(found))}" if found else "no revision yet"
        raise DatabaseUnavailableError(
            f"the database (DATABASE_URL) is at {at}, this version needs "
            f"{', '.join(sorted(needed))}: {FIX}"
        )
