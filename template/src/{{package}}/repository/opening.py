"""Opening the database of DATABASE_URL, with every failure told in the service's own words.

SQLAlchemy's errors speak of dialects, plugins and DBAPIs, and end in a traceback; a start-up
that fails here ends instead with DatabaseUnavailableError: what is wrong, then how to fix it.
"""

import os
from pathlib import Path

from sqlalchemy import URL, Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

SQLITE_FORM = "sqlite:///path/to/file.db"
POSTGRESQL_FORM = "postgresql+psycopg://user:password@host:5432/name"
POSTGRESQL_FIX = f"write it as {POSTGRESQL_FORM} (psycopg is the driver the service comes with)"
CONNECT_TIMEOUT = 10  # seconds; libpq's default is to wait as long as the system lets it


class DatabaseUnavailableError(Exception):
    """The database of DATABASE_URL cannot be used; the message says why and what to change."""


def parse(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as error:
        # Not echoed: a URL that does not parse may still hold a password.
        raise DatabaseUnavailableError(
            "DATABASE_URL is not a database URL.\n"
            f"Write it as {SQLITE_FORM} or {POSTGRESQL_FORM}, or unset it for the default "
            "SQLite file."
        ) from error


def normalized(url: str) -> URL:
    """DATABASE_URL as the service connects to it: SQLite through the standard library, and
    PostgreSQL through psycopg, whatever form the URL came in."""
    parsed = parse(url)
    if parsed.get_backend_name() == "sqlite":
        # Accepts the `sqlite+aiosqlite://` URLs of earlier versions too.
        parsed = parsed.set(drivername="sqlite")
        if parsed.database and parsed.database != ":memory:":
            writable_directory(Path(parsed.database))
    elif parsed.drivername in {"postgres", "postgresql"}:
        # psycopg is the driver the service installs; SQLAlchemy's default is psycopg2.
        # Hosting platforms hand out postgres:// URLs, which SQLAlchemy no longer knows.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def engine(url: URL) -> Engine:
    shown = url.render_as_string(hide_password=True)
    options: dict[str, object] = {}
    if url.drivername == "postgresql+psycopg" and "connect_timeout" not in url.query:
        # A server that does not answer (a host down, a firewall) fails the start-up, or an
        # operation, in seconds, rather than leaving the database thread waiting minutes.
        options["connect_timeout"] = CONNECT_TIMEOUT
    try:
        return create_engine(url, connect_args=options)
    except NoSuchModuleError as error:
        raise DatabaseUnavailableError(
            f"DATABASE_URL {shown} asks for '{url.drivername}', a database the service does "
            f"not know.\nUse a SQLite file ({SQLITE_FORM}) or, for PostgreSQL, {POSTGRESQL_FIX}."
        ) from error
    except ImportError as missing:
        if url.get_backend_name() == "postgresql":
            fix = f"For PostgreSQL, {POSTGRESQL_FIX}"
        else:
            fix = f"Install the package that provides it, or use a SQLite file ({SQLITE_FORM})"
        raise DatabaseUnavailableError(
            f"DATABASE_URL {shown} needs the driver {missing.name or url.drivername}, which is "
            f"not installed.\n{fix}."
        ) from missing


def writable_directory(database: Path) -> None:
    """Create the directory of a SQLite file: SQLite writes the file and its journal there."""
    directory = database.parent
    named = f"the database directory {directory} (DATABASE_URL)"
    elsewhere = f"set DATABASE_URL to a file elsewhere (e.g. sqlite:///./data/{database.name})"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        raise DatabaseUnavailableError(
            f"{named} cannot be created: a file is in the way.\nMove that file, or {elsewhere}."
        ) from error
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise DatabaseUnavailableError(
            f"{named} cannot be created: {reason}.\nCreate it yourself, or {elsewhere}."
        ) from error
    if not os.access(directory, os.W_OK | os.X_OK):
        raise DatabaseUnavailableError(
            f"{named} is not writable.\nMake it writable, or {elsewhere}."
        )


def unusable(url: URL, error: Exception) -> DatabaseUnavailableError:
    """The database did not open, or its tables could not be created."""
    said = str(error.orig if isinstance(error, DBAPIError) else error)
    reason = said.splitlines()[0].rstrip(".") if said else type(error).__name__
    if url.get_backend_name() == "sqlite":
        return DatabaseUnavailableError(
            f"cannot open the SQLite database {url.database} (DATABASE_URL): {reason}.\n"
            "Point DATABASE_URL at a SQLite database file, or at a new file, in a writable "
            "directory."
        )
    return DatabaseUnavailableError(
        f"cannot use the database at {url.render_as_string(hide_password=True)} "
        f"(DATABASE_URL): {reason}.\nCheck that the database server runs and that the URL's "
        "host, port, name, user and password are right."
    )
