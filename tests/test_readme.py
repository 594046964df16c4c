"""A newcomer's first hour, as the docs tell it: the README's command, a token, then an update.

The README's render-and-run command runs exactly as written, from a clone of this template (a
throwaway git repository of this working tree), with only PORT set so that it cannot collide with
anything else on the machine. Once the service answers, the page and a REST call with a token
from `make token` work. Then the user commits the service and an edit of their own, the template
gets a new commit, and docs/updating.md's update command brings it in.
"""

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .matrix import ROOT
from .test_update import commit_all, git, template_files

SERVING_WITHIN = 300  # seconds: a first `make run` installs the service's dependencies
USER_EDIT = "# Ada's note: ask before changing the port.\n"
TEMPLATE_CHANGE = "# Added by the next template version.\n"


def shell_blocks(markdown: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", markdown.read_text(), re.DOTALL)


def documented(markdown: Path, fragment: str) -> str:
    """The first shell command in `markdown` that contains `fragment`, without its comment."""
    for block in shell_blocks(markdown):
        for line in block.splitlines():
            if fragment in line:
                return line.split("  #", 1)[0].strip()
    raise AssertionError(f"{markdown} shows no command with {fragment!r}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A clone of the template as a user has it: a git repository holding this working tree."""
    repo = tmp_path / "clean-realtime"
    for relative in [*template_files(), Path("README.md")]:
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_bytes((ROOT / relative).read_bytes())
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all", "--force")
    git(repo, "commit", "--quiet", "-m", "The template as cloned")
    return repo


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def served(checkout: Path, port: int) -> Iterator[Path]:
    """The README's first command, running; the service it rendered."""
    command = documented(ROOT / "README.md", "copier copy")
    log = checkout.parent / "make-run.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=checkout,
            env={**os.environ, "PORT": str(port)},
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its whole group (uv, make, the service) is stopped below
        )
    try:
        wait_until_serving(port, process, log)
        yield checkout.parent / "my-service"
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):  # the group may be gone already
            os.killpg(process.pid, signum)
        try:
            process.wait(timeout=30)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_until_serving(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVING_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the README's command ended with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"nothing served on port {port} after {SERVING_WITHIN} s:\n{log.read_text()}")


def test_the_readme_serves_a_service_a_token_opens_and_an_update_reaches(
    served: Path, checkout: Path, port: int
) -> None:
    service = served
    base = f"http://127.0.0.1:{port}"
    page = httpx.get(f"{base}/", timeout=10)
    assert page.status_code == 200
    assert "Realtime Service" in page.text

    token = subprocess.run(
        ["make", "-s", "token", "SUBJECT=ada"],
        cwd=service,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base}/api/users", timeout=10).status_code == 401
    listed = httpx.get(f"{base}/api/users", headers=bearer, timeout=10)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [], "total": 0}

    # The user keeps the service in git, as docs/getting-started.md says, and makes it their own.
    git(service, "init", "--quiet", "--initial-branch=main")
    commit_all(service, "My service")
    with (service / ".env.example").open("a") as env_example:
        env_example.write(USER_EDIT)
    commit_all(service, "A note for the team")

    # The template moves on.
    with (checkout / "template" / ".gitignore").open("a") as ignored:
        ignored.write(TEMPLATE_CHANGE)
    commit_all(checkout, "The next template version")

    update = documented(ROOT / "docs" / "updating.md", "copier update --defaults")
    result = subprocess.run(
        ["bash", "-c", update], cwd=service, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (service / ".gitignore").read_text().endswith(TEMPLATE_CHANGE)
    assert (service / ".env.example").read_text().endswith(USER_EDIT)
    assert "UU" not in git(service, "status", "--porcelain"), "the update left a conflict"
    assert not list(service.rglob("*.rej")), "the update left a rejected change"
