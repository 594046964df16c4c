"""Starting, restarting and refusing to start the service as `python -m <package>`."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.credentials import auth_headers
from tests.e2e.harness import WAIT, free_port, running, service_env
from tests.samples import COLLECTION, PACKAGE, valid_data


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


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "abc"),
        ("MAX_MESSAGE_BYTES", "10"),
        ("SEND_QUEUE_SIZE", "0"),
        ("MAX_CONNECTIONS", "none"),
    ],
)
def test_a_bad_setting_stops_the_start_with_its_name(
    tmp_path: Path, variable: str, value: str
) -> None:
    env = service_env(free_port(), tmp_path / "db.sqlite3", **{variable: value})

    finished = subprocess.run(
        [sys.executable, "-m", PACKAGE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT * 6,
        check=False,
    )

    assert finished.returncode != 0
    assert variable in finished.stderr
    assert repr(value) in finished.stderr
    assert "Traceback" not in finished.stderr
    assert not (tmp_path / "db.sqlite3").exists()
