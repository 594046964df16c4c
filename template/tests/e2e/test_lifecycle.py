"""Starting, restarting and refusing to start the service as `python -m <package>`.

A start that fails ends with the problem and its fix in plain words, naming the setting, and no
traceback (unless LOG_LEVEL=debug); a start that succeeds says where to go next.
"""

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command

from tests.e2e.credentials import auth_headers
from tests.e2e.harness import (
    WAIT,
    Server,
    events_logged,
    free_port,
    running,
    service_env,
    wait_for_log,
)
from tests.samples import AUTH, COLLECTION, PACKAGE, opening, schema, valid_data


def test_data_survives_a_restart_on_the_same_database(tmp_path: Path) -> None:
    database = tmp_path / "kept.sqlite3"
    with running(tmp_path, database) as first:
        response = httpx.post(
            f"{first.base_url}{COLLECTION}", json=valid_data(), timeout=WAIT, headers=auth_headers()
        )
        assert response.status_code == 201
        created = response.json()
        assert first.stop() == 0

    with running(tmp_path, database) as second:
        found = httpx.get(
            f"{second.base_url}{COLLECTION}/{created['id']}", timeout=WAIT, headers=auth_headers()
        )
        page = httpx.get(f"{second.base_url}{COLLECTION}", timeout=WAIT, headers=auth_headers())

    assert found.status_code == 200
    assert found.json() == created
    assert page.json() == {"items": [created], "total": 1}


def start_that_ends(tmp_path: Path, port: int, **settings: str) -> subprocess.CompletedProcess[str]:
    """`python -m <package>` with these settings, run until it ends by itself."""
    return subprocess.run(
        [sys.executable, "-m", PACKAGE],
        cwd=tmp_path,
        env=service_env(port, tmp_path / "db.sqlite3", **settings),
        capture_output=True,
        text=True,
        timeout=WAIT * 6,
        check=False,
    )


def refused_start(tmp_path: Path, **settings: str) -> str:
    """What `python -m <package>` says when it refuses to start with these settings.

    The refusal is the whole output: a non-zero exit, nothing on stdout, no traceback. (Logs
    of what went well before it, such as the new database's upgrade, are left out.)
    """
    finished = start_that_ends(tmp_path, free_port(), **({"LOG_LEVEL": "warning"} | settings))
    assert finished.returncode != 0, finished.stdout + finished.stderr
    assert finished.stdout == ""
    assert "Traceback" not in finished.stderr
    return finished.stderr


@pytest.mark.parametrize(
    ("variable", "value", "wanted"),
    [
        ("PORT", "abc", "must be a whole number"),
        ("MAX_MESSAGE_BYTES", "10", "must be 1024 or more"),
        ("SEND_QUEUE_SIZE", "0", "must be 1 or more"),
        ("MAX_CONNECTIONS", "none", "must be a whole number"),
        ("RATE_LIMIT_PER_SECOND", "0", "must be more than 0"),
        ("WS_COMPRESSION", "maybe", "must be true or false"),
        ("LOG_LEVEL", "loud", "must be 'debug', 'info', 'warning' or 'error'"),
    ],
)
def test_a_bad_setting_stops_the_start_with_its_name(
    tmp_path: Path, variable: str, value: str, wanted: str
) -> None:
    said = refused_start(tmp_path, **{variable: value})

    assert f"{variable}: {wanted} (got {value!r})" in said
    assert "Input should" not in said  # pydantic's words
    assert not (tmp_path / "db.sqlite3").exists()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on which something else listens."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_a_port_in_use_says_so_and_which_port_to_set(tmp_path: Path, taken_port: int) -> None:
    said = refused_start(tmp_path, PORT=str(taken_port))

    assert said.splitlines() == [
        f"cannot listen on 127.0.0.1:{taken_port}, address already in use.",
        f"Stop what uses it or set PORT={taken_port + 1}.",
    ]


def test_a_host_that_is_not_this_machine_says_which_to_set(tmp_path: Path) -> None:
    said = refused_start(tmp_path, HOST="192.0.2.1")  # TEST-NET-1: never a local address

    assert "HOST 192.0.2.1 is not an address of this machine" in said
    assert "Set HOST=127.0.0.1" in said


def test_with_log_level_debug_a_refused_start_shows_its_traceback(
    tmp_path: Path, taken_port: int
) -> None:
    finished = start_that_ends(tmp_path, taken_port, LOG_LEVEL="debug")

    assert finished.returncode != 0
    assert "Traceback" in finished.stderr
    assert f"set PORT={taken_port + 1}" in finished.stderr


def test_a_database_directory_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the directory should be\n")

    said = refused_start(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/data/service.db")

    assert said.splitlines() == [
        f"the database directory {tmp_path}/data (DATABASE_URL) cannot be created: "
        "a file is in the way.",
        "Move that file, or set DATABASE_URL to a file elsewhere "
        "(e.g. sqlite:///./data/service.db).",
    ]


def test_a_database_behind_the_code_stops_the_start_up_naming_the_command(
    tmp_path: Path,
) -> None:
    newest = ", ".join(sorted(schema.newest()))
    fix = "run `make migrate` (or start once with AUTO_MIGRATE=1)"

    said = refused_start(tmp_path, AUTO_MIGRATE="0")

    assert said.splitlines() == [
        f"the database (DATABASE_URL) is at no revision yet, this version needs {newest}: {fix}"
    ]

    with running(tmp_path, tmp_path / "db.sqlite3") as server:  # AUTO_MIGRATE=1
        assert server.stop() == 0
    engine = opening.engine(opening.normalized(f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    with engine.begin() as connection:
        command.downgrade(schema.alembic_config(connection), "-1")
        behind = ", ".join(sorted(schema.current(connection)))
    engine.dispose()

    said = refused_start(tmp_path, AUTO_MIGRATE="0")

    assert said.splitlines() == [
        f"the database (DATABASE_URL) is at revision {behind}, this version needs {newest}: {fix}"
    ]


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list: eggs, flour, milk\n" * 100)

    said = refused_start(tmp_path, DATABASE_URL=f"sqlite:///{notes}")

    assert f"cannot open the SQLite database {notes} (DATABASE_URL)" in said
    assert "file is not a database" in said
    assert len(said.splitlines()) == 2
    assert notes.read_text().startswith("shopping list")  # left as it was


@pytest.mark.parametrize(
    ("url", "wanted"),
    [
        (
            "postgresql+psycopg2://ada:s3cret-pw@db.example/service",
            "DATABASE_URL postgresql+psycopg2://ada:***@db.example/service needs the driver "
            "psycopg2, which is not installed.\nFor PostgreSQL, write it as postgresql+psycopg://",
        ),
        (
            "mongodb://db.example/service",
            "DATABASE_URL mongodb://db.example/service asks for 'mongodb', a database the "
            "service does not know.",
        ),
        ("db.example:5432", "DATABASE_URL is not a database URL."),
    ],
)
def test_a_database_url_the_service_cannot_use_says_what_works(
    tmp_path: Path, url: str, wanted: str
) -> None:
    said = refused_start(tmp_path, DATABASE_URL=url)

    assert said.startswith(wanted)
    assert "sqlite:///" in said or "postgresql+psycopg://" in said  # a URL that works
    assert "s3cret-pw" not in said
    assert len(said.splitlines()) == 2


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "postgresql", "postgres"])
def test_a_database_server_that_cannot_be_reached_is_named_without_its_password(
    tmp_path: Path, scheme: str
) -> None:
    nobody = free_port()  # nothing listens there
    url = f"{scheme}://ada:s3cret-pw@127.0.0.1:{nobody}/service"

    finished = start_that_ends(tmp_path, free_port(), DATABASE_URL=url)

    assert finished.returncode == 1
    assert finished.stdout == ""
    problem, fix = finished.stderr.splitlines()
    assert problem.startswith(
        f"cannot use the database at postgresql+psycopg://ada:***@127.0.0.1:{nobody}/service "
        "(DATABASE_URL): "
    )
    assert "Connection refused" in problem
    assert fix == (
        "Check that the database server runs and that the URL's host, port, name, user and "
        "password are right."
    )
    assert "s3cret-pw" not in finished.stderr


async def fetch(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=WAIT) as client:
        return await client.get(url)


async def logged_lines(server: Server, wanted: str) -> list[str]:
    """The service's output lines, once one of them holds `wanted`."""
    deadline = time.monotonic() + WAIT
    while wanted not in (output := server.output()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{wanted!r} never logged:\n{output}")
        await asyncio.sleep(0.02)
    return output.splitlines()


async def test_once_it_listens_the_service_says_where_to_go_in_text_logs(
    tmp_path: Path,
) -> None:
    with running(tmp_path, LOG_FORMAT="text") as server:
        page = f"http://127.0.0.1:{server.port}/"
        lines = await logged_lines(server, "docs:")
        opened = await fetch(page)

    assert opened.status_code == 200  # the address said is the page's
    [ready] = [line for line in lines if line.endswith(f"is ready: open {page}")]
    block = lines[lines.index(ready) + 1 : lines.index(ready) + 4]
    assert any(line.endswith("docs:  README.md, docs/websocket.md") for line in block), block
    hints = [line for line in block if "token:" in line]
    if AUTH == "none":
        assert hints == []
    else:
        [hint] = hints
        assert "make token SUBJECT=" in hint
        assert ("API_TOKENS in .env" in hint) == (AUTH == "token")


async def test_once_it_listens_the_service_logs_one_ready_event_in_json_logs(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as server:
        ready = await wait_for_log(server, "ready")
        page = f"http://127.0.0.1:{server.port}/"
        opened = await fetch(page)

    assert opened.status_code == 200
    assert ready["url"] == page
    assert ready["docs"] == ["README.md", "docs/websocket.md"]
    if AUTH == "none":
        assert "token" not in ready
    else:
        assert ready["token"].startswith("make token SUBJECT=")
    assert len(events_logged(server, "ready")) == 1
