"""The deployment files of every render: Dockerfile, .dockerignore and compose.yaml.

No Docker engine runs where these tests run (`docker build` fails), so no image is built and
no container started. What stands in for that: hadolint lints the Dockerfile, check-jsonschema
validates compose.yaml against the Compose specification, the tests read both files for the
facts a user relies on (shared Redis and PostgreSQL, distinct ports, a non-root user, the
package the image runs, the secrets compose asks for), check that the build context holds
every file the build reads, and run both health-check commands against the rendered service
itself, started from the shared environment as the image would start it.
"""

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from .conftest import render

BIN = Path(sys.executable).parent
LEFTOVER = re.compile(r"{{ *[A-Za-z_]|{%|%}|{#")
INSTANCES = ("app-1", "app-2")
# What each `auth` answer makes the service require, and so what compose must demand.
SECRETS = {"none": set(), "token": {"API_TOKENS"}, "jwt": {"JWT_SECRET"}}
START_TIMEOUT = 60.0  # a loaded 2-core machine may take long to import and start the service


@dataclass(frozen=True)
class Project:
    path: Path
    auth: str
    package: str


@pytest.fixture(scope="module", params=sorted(SECRETS))
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A render per `auth` answer, each with a package name of its own (not the default)."""
    auth: str = request.param
    package = f"live_{auth}"
    destination = tmp_path_factory.mktemp(f"deploy-{auth}") / "project"
    render(destination, {"auth": auth, "package": package})
    return Project(destination, auth, package)


# --- reading the files ------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    stage: str


def instructions(dockerfile: Path) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, each with its stage's name."""
    result: list[Instruction] = []
    stage = ""
    pending = ""
    for line in dockerfile.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue  # comments (parser directives too) and blank lines, even mid-instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        pending = ""
        keyword = keyword.upper()
        if keyword == "FROM":
            words = arguments.split()
            stage = words[2] if len(words) == 3 and words[1].upper() == "AS" else words[0]
        result.append(Instruction(keyword, " ".join(arguments.split()), stage))
    return result


def stage_of(dockerfile: Path, name: str) -> list[Instruction]:
    return [instruction for instruction in instructions(dockerfile) if instruction.stage == name]


def final_stage(dockerfile: Path) -> list[Instruction]:
    return stage_of(dockerfile, instructions(dockerfile)[-1].stage)


def flags_and_words(arguments: str) -> tuple[dict[str, str], list[str]]:
    """`--from=build /a /b` as ({"from": "build"}, ["/a", "/b"])."""
    flags: dict[str, str] = {}
    words: list[str] = []
    for word in shlex.split(arguments):
        if word.startswith("--"):
            name, _, value = word[2:].partition("=")
            flags[name] = value
        else:
            words.append(word)
    return flags, words


def context_reads(dockerfile: Path) -> list[str]:
    """Every path the build reads from its context: COPY sources and RUN bind mounts."""
    paths: list[str] = []
    for instruction in instructions(dockerfile):
        if instruction.keyword in {"COPY", "ADD"}:
            flags, words = flags_and_words(instruction.arguments)
            if "from" not in flags:
                paths += words[:-1]
        if instruction.keyword == "RUN":
            for mount in re.findall(r"--mount=(\S+)", instruction.arguments):
                options = dict(option.partition("=")[::2] for option in mount.split(","))
                if options.get("type") == "bind" and "from" not in options:
                    paths.append(options["source"])
    return paths


GLOB = {"**": ".*", "*": "[^/]*", "?": "[^/]"}


def glob_literal(token: str) -> str:
    """A character class as it is; anything else matched literally."""
    return token if token.startswith("[") else re.escape(token)


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore `patterns` keep `path` (relative, with /) out of the context.

    Docker's rules: `*` and `?` stay within a path segment, `**` spans any number of them, a
    pattern that matches a directory excludes all within it, `!` re-includes, the last
    matching pattern decides.
    """
    parts = path.split("/")
    candidates = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    excluded = False
    for raw in patterns:
        negated = raw.startswith("!")
        pattern = raw.removeprefix("!").strip().strip("/")
        tokens = re.findall(r"\*\*|\*|\?|\[[^\]]*\]|[^*?\[]+", pattern)
        regex = "".join(GLOB.get(token) or glob_literal(token) for token in tokens)
        regex = regex.replace(".*/", "(.*/)?")  # `**/x` also matches x at the top
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def dockerignore(project: Project) -> list[str]:
    lines = (project.path / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def compose(project: Project) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((project.path / "compose.yaml").read_text())
    return document


def seconds(duration: str) -> float:
    """A Compose duration such as `15s`, `1m30s` or `500ms`, in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert "".join(number + unit for number, unit in parts) == duration, duration
    return sum(float(number) * units[unit] for number, unit in parts)


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=300, check=False
    )


# --- linters and schema -----------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint_at_its_strictest(project: Project) -> None:
    # `style` is the lowest threshold: any finding at all, even a style one, fails.
    linted = run(
        BIN / "hadolint", "--no-color", "--failure-threshold", "style", project.path / "Dockerfile"
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_compose_yaml_follows_the_compose_specification(project: Project) -> None:
    checked = run(
        BIN / "check-jsonschema",
        "--builtin-schema",
        "vendor.compose-spec",
        project.path / "compose.yaml",
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_deployment_files_hold_no_template_syntax(project: Project) -> None:
    for name in ("Dockerfile", ".dockerignore", "compose.yaml"):
        for number, line in enumerate((project.path / name).read_text().splitlines(), 1):
            assert not LEFTOVER.search(line), f"{name}:{number}: {line}"


# --- the image --------------------------------------------------------------------------------


def test_the_image_runs_the_rendered_package_as_a_non_root_user(project: Project) -> None:
    runtime = final_stage(project.path / "Dockerfile")
    keywords = [instruction.keyword for instruction in runtime]
    users = [instruction.arguments for instruction in runtime if instruction.keyword == "USER"]
    assert users, "the runtime stage runs as root"
    user = users[-1].partition(":")[0]
    assert user not in {"root", "0"}, users[-1]
    assert max(i for i, k in enumerate(keywords) if k == "USER") < keywords.index("CMD")

    (command,) = [instruction.arguments for instruction in runtime if instruction.keyword == "CMD"]
    # Exec form (a JSON array): python is PID 1 and receives SIGTERM, so the service drains;
    # in shell form, /bin/sh would get the signal and the service would be killed undrained.
    assert command.startswith("["), f"CMD {command} is in shell form"
    assert json.loads(command) == ["python", "-m", project.package]
    assert (project.path / "src" / project.package / "__main__.py").is_file()


def image_environment(project: Project) -> dict[str, str]:
    """The variables the image's runtime stage sets (ENV)."""
    environment: dict[str, str] = {}
    for instruction in final_stage(project.path / "Dockerfile"):
        if instruction.keyword == "ENV":
            environment |= dict(
                word.partition("=")[::2] for word in shlex.split(instruction.arguments)
            )
    return environment


def test_the_image_listens_on_every_interface_at_port_8000(project: Project) -> None:
    runtime = final_stage(project.path / "Dockerfile")
    environment = image_environment(project)
    assert environment["HOST"] == "0.0.0.0"
    assert environment["PORT"] == "8000"
    exposed = [instruction.arguments for instruction in runtime if instruction.keyword == "EXPOSE"]
    assert exposed == ["8000"]


def test_the_runtime_stage_holds_only_what_the_build_stage_installed(project: Project) -> None:
    """Nothing from the context reaches the runtime stage: no uv, no sources, no .env."""
    runtime = final_stage(project.path / "Dockerfile")
    copies = [flags_and_words(i.arguments) for i in runtime if i.keyword in {"COPY", "ADD"}]
    assert copies, "the runtime stage copies nothing: where is the service?"
    for flags, words in copies:
        assert "from" in flags, f"COPY {' '.join(words)} copies from the build context"
        assert words[:-1] == ["/app/.venv"], words


def test_the_image_healthcheck_asks_health_with_urllib(project: Project) -> None:
    runtime = final_stage(project.path / "Dockerfile")
    (check,) = [i.arguments for i in runtime if i.keyword == "HEALTHCHECK"]
    _options, _, command = check.partition(" CMD ")
    arguments = json.loads(command)  # exec form: no shell, which slim images have anyway
    assert arguments[:2] == ["python", "-c"]
    assert "urllib.request" in arguments[2]
    assert "/health'" in arguments[2]


def test_dependencies_install_from_the_lock_before_the_code_arrives(project: Project) -> None:
    """An edit to src/ must not reinstall the dependencies: their layer comes first."""
    build = [i for i in instructions(project.path / "Dockerfile") if i.keyword in {"RUN", "COPY"}]
    lock_only = next(
        index
        for index, instruction in enumerate(build)
        if "uv sync --locked --no-dev --no-install-project" in instruction.arguments
    )
    first_source = next(
        index
        for index, instruction in enumerate(build)
        if instruction.keyword == "COPY" and re.search(r"(^| )src\b", instruction.arguments)
    )
    assert lock_only < first_source


def test_the_base_images_are_pinned(project: Project) -> None:
    images = [
        i.arguments.split()[0]
        for i in instructions(project.path / "Dockerfile")
        if i.keyword == "FROM"
    ]
    uv = [image for image in images if image.startswith("ghcr.io/astral-sh/uv:")]
    assert len(uv) == 1
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+", uv[0]), uv[0]
    pythons = [image for image in images if image.startswith("python:")]
    assert len(pythons) == 1, "both stages must share one Python, or the venv's interpreter moves"
    assert re.fullmatch(r"python:3\.11-slim(-[a-z]+)?", pythons[0]), pythons[0]


# --- the build context ------------------------------------------------------------------------


def test_every_file_the_build_reads_is_in_the_context(project: Project) -> None:
    patterns = dockerignore(project)
    reads = context_reads(project.path / "Dockerfile")
    assert {"pyproject.toml", "uv.lock", "README.md", "src"} <= set(reads), reads
    for read in reads:
        source = project.path / read
        assert source.exists(), f"the Dockerfile reads {read}, which the render lacks"
        files = [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]
        for path in files:
            relative = path.relative_to(project.path).as_posix()
            assert not ignored(relative, patterns), f".dockerignore keeps out {relative}"
    # The package the image runs is among what the build context hands over.
    main = f"src/{project.package}/__main__.py"
    assert any(main == read or main.startswith(read.rstrip("/") + "/") for read in reads)
    assert not ignored(main, patterns)


def test_the_context_leaves_out_local_state_secrets_and_build_output(project: Project) -> None:
    patterns = dockerignore(project)
    for path in (
        ".venv/bin/python",
        ".env",
        "data/service.db",
        ".git/HEAD",
        "build/reports/accounting.txt",
        "dist/service-0.1.0-py3-none-any.whl",
        f"src/{project.package}/__pycache__/app.cpython-311.pyc",
        ".pytest_cache/README.md",
        ".mypy_cache/3.11/app.json",
        ".ruff_cache/CACHEDIR.TAG",
    ):
        assert ignored(path, patterns), f".dockerignore lets {path} into the image's context"


def test_the_dockerignore_reading_follows_docker_rules() -> None:
    """The matcher the two tests above rely on, against cases whose answer Docker documents."""
    assert ignored("a/b/__pycache__/x.pyc", ["**/__pycache__"])
    assert ignored("__pycache__/x.pyc", ["**/__pycache__"])
    assert ignored("data/x.db", ["data"])
    assert not ignored("src/data.py", ["data"])
    assert not ignored("src/app.py", ["*.py"])  # `*` stays within the top level
    assert not ignored("src/keep.py", ["src", "!src/keep.py"])
    assert ignored("src/drop.py", ["src", "!src/keep.py"])


# --- compose ----------------------------------------------------------------------------------


def test_the_instances_share_one_redis_and_one_postgresql(project: Project) -> None:
    services = compose(project)["services"]
    database = services["postgres"]["environment"]
    for name in INSTANCES:
        instance = services[name]
        environment = instance["environment"]
        assert environment["BACKPLANE_URL"] == "redis://redis:6379/0"
        url = urlsplit(environment["DATABASE_URL"])
        assert url.scheme == "postgresql+psycopg"
        assert (url.hostname, url.port) == ("postgres", 5432)
        # The credentials the instances use are the ones the database is created with.
        assert url.username == database["POSTGRES_USER"]
        assert url.password == database["POSTGRES_PASSWORD"]
        assert url.path == f"/{database['POSTGRES_DB']}"
        assert instance["build"] == "."
        assert instance["depends_on"] == {
            "redis": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
        }


def test_the_instances_answer_on_different_host_ports(project: Project) -> None:
    services = compose(project)["services"]
    published = {}
    for name in INSTANCES:
        (mapping,) = services[name]["ports"]
        *_address, host, container = str(mapping).split(":")
        assert container == "8000", "the service listens on PORT=8000 in the image"
        published[name] = int(host)
    assert published == {"app-1": 8001, "app-2": 8002}


def test_redis_and_postgresql_are_pinned_and_report_their_health(project: Project) -> None:
    services = compose(project)["services"]
    redis, postgres = services["redis"], services["postgres"]
    assert re.fullmatch(r"redis:\d+(\.\d+)*(-alpine)?", redis["image"]), redis["image"]
    assert redis["healthcheck"]["test"][:3] == ["CMD", "redis-cli", "ping"]
    major = re.fullmatch(r"postgres:(\d+)(\.\d+)*(-alpine)?", postgres["image"])
    assert major is not None, postgres["image"]
    assert int(major.group(1)) >= 13
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]


def test_postgresql_keeps_its_data_in_a_named_volume(project: Project) -> None:
    document = compose(project)
    (volume,) = document["services"]["postgres"]["volumes"]
    name, _, target = volume.partition(":")
    assert target == "/var/lib/postgresql/data"
    assert name in document["volumes"]


def test_compose_waits_longer_than_the_service_drains(project: Project) -> None:
    services = compose(project)["services"]
    for name in INSTANCES:
        drain = float(services[name]["environment"].get("SHUTDOWN_TIMEOUT", 10))
        assert seconds(services[name]["stop_grace_period"]) > drain


def test_compose_demands_exactly_the_secrets_of_the_auth_answer(project: Project) -> None:
    """A missing secret stops `docker compose up` with a message naming it (`${X:?msg}`);
    with auth=none nothing is demanded, so the stack starts without a .env."""
    text = (project.path / "compose.yaml").read_text()
    demanded = dict(re.findall(r"\$\{(\w+):\?([^}]*)\}", text))
    assert set(demanded) == SECRETS[project.auth]
    for variable, message in demanded.items():
        assert "make .env" in message, message
        for name in INSTANCES:
            passed = compose(project)["services"][name]["environment"][variable]
            assert passed.startswith(f"${{{variable}:?")
    assert "env_file" not in text


def test_what_make_env_writes_is_what_compose_demands(project: Project) -> None:
    """`make .env` writes devtoken's output; compose reads .env for its ${...} variables."""
    if project.auth == "none":
        assert "devtoken" not in (project.path / "Makefile").read_text()
        return
    written = development_credentials(project)
    assert set(written) == SECRETS[project.auth]


# --- the health checks, against the real service ----------------------------------------------


def development_credentials(project: Project) -> dict[str, str]:
    """What `make .env` would write: `python -m <package>.devtoken --env`."""
    if project.auth == "none":
        return {}
    result = subprocess.run(
        [sys.executable, "-m", f"{project.package}.devtoken", "--env"],
        cwd=project.path,
        env={**os.environ, "PYTHONPATH": str(project.path / "src")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(line.partition("=")[::2] for line in result.stdout.splitlines() if line)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
            return status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture
def service(project: Project, tmp_path: Path) -> Iterator[int]:
    """The rendered service, started as the image starts it; yields its port, then stops it."""
    for _attempt in range(3):
        port = free_port()
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in {"HOST", "PORT", "DATABASE_URL", "BACKPLANE_URL"}
        }
        # The image's own settings (AUTO_MIGRATE among them), but for where it listens.
        environment |= {k: v for k, v in image_environment(project).items() if k != "PATH"}
        environment |= development_credentials(project) | {
            "PYTHONPATH": str(project.path / "src"),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}",
        }
        log = tmp_path / f"service-{port}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", project.package],
                cwd=tmp_path,  # no .env of the render applies
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while process.poll() is None and time.monotonic() < deadline:
                if answers(f"http://127.0.0.1:{port}/health"):
                    yield port
                    return
                time.sleep(0.1)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if "address already in use" not in log.read_text(errors="replace"):
            break
    pytest.fail(f"the service did not start:\n{log.read_text(errors='replace')[-4000:]}")


def health_check(command: list[str], port: int) -> int:
    """Run a container's health-check command here, with `python` this interpreter."""
    assert command[0] == "python", command
    result = subprocess.run(
        [sys.executable, *command[1:]],
        env={**os.environ, "PORT": str(port)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode


def image_health_check(project: Project) -> list[str]:
    runtime = final_stage(project.path / "Dockerfile")
    (check,) = [i.arguments for i in runtime if i.keyword == "HEALTHCHECK"]
    command: list[str] = json.loads(check.partition(" CMD ")[2])
    return command


def compose_health_check(project: Project) -> list[str]:
    checks = [compose(project)["services"][name]["healthcheck"]["test"] for name in INSTANCES]
    assert checks[0] == checks[1]
    assert checks[0][0] == "CMD", checks[0]
    assert "/ready'" in checks[0][-1], "compose asks /ready: is the instance able to serve?"
    command: list[str] = checks[0][1:]
    return command


def test_both_health_checks_pass_while_the_service_serves(project: Project, service: int) -> None:
    assert health_check(image_health_check(project), service) == 0
    assert health_check(compose_health_check(project), service) == 0


def test_both_health_checks_fail_when_nothing_serves(project: Project) -> None:
    silent = free_port()  # bound a moment ago, then closed: nothing listens there
    assert health_check(image_health_check(project), silent) != 0
    assert health_check(compose_health_check(project), silent) != 0
