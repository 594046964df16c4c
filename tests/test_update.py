"""`copier update` on projects their users have changed.

A throwaway template repository is built from this working tree and given three versions:
1.0.0 (the template as it is), 1.1.0 (a change visible in every project) and 2.0.0 (the
`description` question renamed `summary`, with a migration that runs hooks/rename_answer.py).
Projects are rendered from it, edited and committed as a user would, then updated.

Every updated project must have no conflict markers and no `.rej` files, and must equal a fresh
render of the version it was updated to, with the same user edits applied to it.
"""

import asyncio
import contextlib
import difflib
import importlib.util
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import copier
import httpx
import jwt
import pytest
import websockets
import yaml
from copier.errors import UnsafeTemplateError

from .conftest import render
from .matrix import ROOT, choices, questions
from .test_render import BIN, run

GIT = ("git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "core.hooksPath=")
TEMPLATE_PATHS = ("copier.yml", "template", "hooks")
ANSWERS = ".copier-answers.yml"


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run([*GIT, *args], cwd=cwd, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"`git {' '.join(args)}` failed in {cwd}:\n{output}"
    return result.stdout


def commit_all(repository: Path, message: str) -> None:
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "--allow-empty", "-m", message)


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"expected exactly one {old!r} in {path}; update this test"
    path.write_text(text.replace(old, new))


# --- The throwaway template repository ----------------------------------------------------

# What version 1.1.0 changes, as every rendered project shows it.
ENV_EXAMPLE_LINE = (
    "# Since template 1.1.0: every variable above can also be set in the environment."
)
SERVICE_DOCSTRING = '"""Use cases for the {{ entity_label }}: create, get, list, update, delete."""'
ORIGINS_LINE = '    allowed_origins: str = ""'
ORIGINS_COMMENTED = ORIGINS_LINE + "  # comma-separated, e.g. https://app.example.com"

RENAMED_FROM, RENAMED_TO = "description", "summary"
MIGRATION = f"""
_migrations:
  - version: "2.0.0"
    when: "{{{{ _stage == 'before' }}}}"
    command:
      - "{{{{ _copier_python }}}}"
      - "{{{{ _copier_conf.src_path }}}}/hooks/rename_answer.py"
      - {RENAMED_FROM}
      - {RENAMED_TO}
      - --answers-file
      - "{{{{ _copier_conf.answers_file }}}}"
"""
JINJA_EXPRESSION = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)


def template_files() -> list[Path]:
    """This working tree's template files: tracked, or new and not ignored."""
    listed = git(
        ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard", *TEMPLATE_PATHS
    )
    return sorted({Path(name) for name in listed.split("\0") if name and (ROOT / name).is_file()})


def release_1_1_0(repo: Path) -> None:
    template = repo / "template"
    env_example = template / ".env.example.jinja"
    env_example.write_text(env_example.read_text() + ENV_EXAMPLE_LINE + "\n")
    service = template / "src" / "{{package}}" / "usecase" / "service.py.jinja"
    first, rest = service.read_text().split("\n", 1)
    assert re.fullmatch(r'""".+"""', first), f"{service} no longer starts with a docstring"
    service.write_text(SERVICE_DOCSTRING + "\n" + rest)
    settings = template / "src" / "{{package}}" / "settings.py.jinja"
    replace_once(settings, ORIGINS_LINE + "\n", ORIGINS_COMMENTED + "\n")


def release_2_0_0(repo: Path) -> None:
    """Rename a question everywhere the template uses it, with a migration for the answers."""
    config = repo / "copier.yml"
    text = config.read_text()
    assert "_migrations" not in text, "copier.yml has migrations now; merge them in this test"
    question = re.compile(rf"^{RENAMED_FROM}:\n(?:[ \t].*\n|\n)*", re.MULTILINE)
    block = question.search(text)
    assert block, f"copier.yml has no question {RENAMED_FROM!r}; rename another in this test"
    renamed = re.sub(rf"\b{RENAMED_FROM}\b", RENAMED_TO, block.group())
    config.write_text(text[: block.start()] + renamed + text[block.end() :] + MIGRATION)

    def rename(expression: re.Match[str]) -> str:
        return re.sub(rf"\b{RENAMED_FROM}\b", RENAMED_TO, expression.group())

    for path in (repo / "template").rglob("*.jinja"):
        source = path.read_text()
        path.write_text(JINJA_EXPRESSION.sub(rename, source))


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as a git repository with tags 1.0.0, 1.1.0 and 2.0.0 (one per xdist worker)."""
    repo = tmp_path_factory.mktemp("template-repo")
    for relative in template_files():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, repo / relative)
    git(repo, "init", "--quiet", "--initial-branch=main")
    for version, change in (("1.0.0", None), ("1.1.0", release_1_1_0), ("2.0.0", release_2_0_0)):
        if change is not None:
            change(repo)
        # --force: the template's own .gitignore must not hide any of its files.
        git(repo, "add", "--all", "--force")
        git(repo, "commit", "--quiet", "-m", f"Template {version}")
        git(repo, "tag", version)
    return repo


# --- What a user does to a rendered project -------------------------------------------------

COUNT_METHOD = '''
    async def count(self) -> int:
        """How many are stored: a use case this project added."""
        _, total = await self._repository.list(1, 0)
        return total
'''
PORT_DEFAULT = "port: int = Field(default=8000,"
PORT_CHANGED = "port: int = Field(default=8080,"
EXTRA_TEST = '''"""What this project added to the rendered service."""

from {package}.settings import Settings
from tests.samples import (
    EntityCreate,
    EntityService,
    Event,
    EventPublisher,
    MemoryRepository,
    valid_data,
)


class DiscardingPublisher(EventPublisher):
    async def publish(self, event: Event) -> None:
        pass


async def test_count_follows_creates() -> None:
    service = EntityService(MemoryRepository(), DiscardingPublisher())
    assert await service.count() == 0
    for n in range(3):
        await service.create(EntityCreate.model_validate(valid_data(n)), "alice")
    assert await service.count() == 3


def test_the_port_default_is_8080() -> None:
    assert Settings.model_fields["port"].default == 8080
'''
LOCAL_ENV = "# my local settings, never committed\nPORT=9000\n"
EXTRA_TEST_PATH = Path("tests/unit/test_user_extra.py")


def package_of(project: Path) -> str:
    package = yaml.safe_load((project / ANSWERS).read_text())["package"]
    assert isinstance(package, str)
    return package


def edit_as_a_user(project: Path) -> None:
    """A new use case, a changed setting default, a new test and a local `.env`."""
    package = project / "src" / package_of(project)
    service = package / "usecase" / "service.py"
    service.write_text(service.read_text() + COUNT_METHOD)
    replace_once(package / "settings.py", PORT_DEFAULT, PORT_CHANGED)
    (project / EXTRA_TEST_PATH).write_text(EXTRA_TEST.format(package=package_of(project)))
    (project / ".env").write_text(LOCAL_ENV)  # ignored by git, kept out of commits


def assert_user_edits_kept(project: Path) -> None:
    package = project / "src" / package_of(project)
    assert (package / "usecase" / "service.py").read_text().endswith(COUNT_METHOD)
    assert PORT_CHANGED in (package / "settings.py").read_text()
    extra = EXTRA_TEST.format(package=package_of(project))
    assert (project / EXTRA_TEST_PATH).read_text() == extra
    assert (project / ".env").read_text() == LOCAL_ENV


# --- What an update must leave behind ------------------------------------------------------

CONFLICT_MARKER = re.compile(r"^(<<<<<<<|=======$|>>>>>>>)")


def project_files(project: Path) -> list[Path]:
    return sorted(
        path
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    )


def assert_no_conflicts(project: Path) -> None:
    assert not git(project, "ls-files", "--unmerged"), "Copier recorded merge conflicts"
    rejects = [str(path) for path in project.rglob("*.rej")]
    assert not rejects, f"rejected hunks: {rejects}"
    # Whitespace rules off: `--check` then reports conflict markers only.
    no_whitespace_rules = ("-c", "core.whitespace=-trailing-space,-space-before-tab")
    check = subprocess.run(
        [*GIT, *no_whitespace_rules, "diff", "--check"], cwd=project, capture_output=True, text=True
    )
    assert check.returncode == 0, f"`git diff --check` in {project}:\n{check.stdout}"
    for path in project_files(project):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            assert not CONFLICT_MARKER.match(line), f"conflict marker at {path}:{number}: {line}"


def snapshot(root: Path) -> dict[str, tuple[str, bool]]:
    """Every file (text, executable bit) and every directory under `root`, `.git` left out."""
    entries: dict[str, tuple[str, bool]] = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if relative.parts[0] == ".git":
            continue
        if path.is_dir():
            entries[f"{relative.as_posix()}/"] = ("", False)
        else:
            entries[relative.as_posix()] = (
                path.read_text(errors="replace"),
                os.access(path, os.X_OK),
            )
    return entries


def assert_same_tree(project: Path, expected: Path) -> None:
    """`project` holds exactly what `expected` (a fresh render, edited alike) holds."""
    have, want = snapshot(project), snapshot(expected)
    problems = [
        f"left behind (a fresh render has no such path): {name}"
        for name in have.keys() - want.keys()
    ]
    problems += [f"missing (a fresh render has it): {name}" for name in want.keys() - have.keys()]
    for name in sorted(have.keys() & want.keys()):
        if have[name] != want[name]:
            diff = difflib.unified_diff(
                want[name][0].splitlines(),
                have[name][0].splitlines(),
                "fresh",
                "updated",
                lineterm="",
            )
            mode = "" if have[name][1] == want[name][1] else " (executable bit differs)"
            problems.append(f"differs{mode}: {name}\n" + "\n".join(itertools.islice(diff, 40)))
    assert not problems, f"{project} is not a fresh render plus the user's edits:\n" + "\n".join(
        sorted(problems)
    )


def render_project(repo: Path, destination: Path, version: str, answers: dict[str, Any]) -> Path:
    """A project rendered from `version` and committed, as `copier update` needs it."""
    render(destination, answers, src=repo, vcs_ref=version)
    git(destination, "init", "--quiet", "--initial-branch=main")
    commit_all(destination, f"Render template {version}")
    return destination


def fresh_render(repo: Path, destination: Path, version: str, answers: dict[str, Any]) -> Path:
    """What the updated project should be: a fresh render with the user's edits made to it."""
    render(destination, answers, src=repo, vcs_ref=version)
    edit_as_a_user(destination)
    return destination


def update(project: Path, **options: Any) -> None:
    options = {
        "defaults": True,
        "overwrite": True,
        "unsafe": False,
        "conflict": "inline",
        **options,
    }
    copier.run_update(project, quiet=True, **options)


# --- Updating to a new template version ----------------------------------------------------


def closed_answer_cases() -> dict[str, dict[str, Any]]:
    """Every choice of every closed question (rooms, auth, and any added later)."""
    closed = {name: choices(spec) for name, spec in questions().items()}
    enumerable = {name: values for name, values in closed.items() if values is not None}
    names = sorted(enumerable)
    cases = {}
    for values in itertools.product(*(enumerable[name] for name in names)):
        answers = dict(zip(names, values, strict=True))
        cases["-".join(f"{name}={value}" for name, value in answers.items())] = answers
    return cases


CASES = closed_answer_cases()
# The project's own tests that an update could break: all unit and integration tests (the
# user's new test among them) and the real-server REST and WebSocket tests. The whole e2e suite
# (over a minute per project) adds nothing here that tests/test_render.py does not prove.
PROJECT_TESTS = (
    "tests/unit",
    "tests/integration",
    "tests/e2e/test_rest.py",
    "tests/e2e/test_websocket.py",
)


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache per xdist worker: the projects differ in a few modules only."""
    return tmp_path_factory.mktemp("mypy-cache")


@pytest.mark.parametrize("answers", CASES.values(), ids=CASES.keys())
def test_an_edited_project_updates_to_the_new_version(
    template_repo: Path,
    mypy_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answers: dict[str, Any],
) -> None:
    project = render_project(template_repo, tmp_path / "project", "1.0.0", answers)
    edit_as_a_user(project)
    commit_all(project, "My changes")
    assert git(project, "status", "--porcelain") == "", "the project must be clean to update"

    update(project, vcs_ref="1.1.0")

    assert_no_conflicts(project)
    assert yaml.safe_load((project / ANSWERS).read_text())["_commit"] == "1.1.0"
    assert_user_edits_kept(project)
    package = project / "src" / package_of(project)
    assert (project / ".env.example").read_text().endswith(ENV_EXAMPLE_LINE + "\n")
    service_docstring = (package / "usecase" / "service.py").read_text().splitlines()[0]
    assert service_docstring.startswith('"""Use cases for the ')
    assert ORIGINS_COMMENTED in (package / "settings.py").read_text()
    assert_same_tree(project, fresh_render(template_repo, tmp_path / "fresh", "1.1.0", answers))

    run(project, str(BIN / "ruff"), "check", ".")
    run(project, str(BIN / "ruff"), "format", "--check", ".")
    monkeypatch.setenv("MYPY_CACHE_DIR", str(mypy_cache))
    run(project, str(BIN / "mypy"))
    run(project, str(BIN / "lint-imports"))
    pytest_options = ("-q", "-p", "no:cacheprovider", "-n", "0", "-x")
    run(project, sys.executable, "-m", "pytest", *pytest_options, *PROJECT_TESTS)


def test_a_conflicting_edit_is_caught_by_these_checks(template_repo: Path, tmp_path: Path) -> None:
    """Copier reports success with conflict markers in the files: the checks must see them."""
    project = render_project(template_repo, tmp_path / "project", "1.0.0", {})
    service = project / "src" / package_of(project) / "usecase" / "service.py"
    _, rest = service.read_text().split("\n", 1)
    service.write_text('"""My own docstring."""\n' + rest)  # the line 1.1.0 changes too
    commit_all(project, "My docstring")

    update(project, vcs_ref="1.1.0")  # no error

    assert service.read_text().startswith('<<<<<<< before updating\n"""My own docstring."""\n')
    with pytest.raises(AssertionError, match="Copier recorded merge conflicts"):
        assert_no_conflicts(project)
    git(project, "add", "--all")  # marked resolved, markers still in the file
    with pytest.raises(AssertionError, match=r"conflict marker at .*service\.py:1:"):
        assert_no_conflicts(project)


# --- Changing an answer in an existing project ---------------------------------------------

ANSWER_CHANGES = {
    "rooms-off-to-on": ({"rooms": False}, {"rooms": True}),
    "rooms-on-to-off": ({"rooms": True}, {"rooms": False}),
    "auth-none-to-jwt": ({"auth": "none"}, {"auth": "jwt"}),
    "auth-jwt-to-token": ({"auth": "jwt"}, {"auth": "token"}),
}


@pytest.mark.parametrize(("before", "after"), ANSWER_CHANGES.values(), ids=ANSWER_CHANGES.keys())
def test_a_changed_answer_gives_what_a_fresh_render_gives(
    template_repo: Path, tmp_path: Path, before: dict[str, Any], after: dict[str, Any]
) -> None:
    project = render_project(template_repo, tmp_path / "project", "1.1.0", before)
    edit_as_a_user(project)
    commit_all(project, "My changes")

    # The API wants the enum: the string ":current:" is taken for a git ref of that name.
    update(project, data=after, vcs_ref=copier.VcsRef.CURRENT)

    assert_no_conflicts(project)
    recorded = yaml.safe_load((project / ANSWERS).read_text())
    assert recorded["_commit"] == "1.1.0"
    assert {name: recorded[name] for name in after} == after
    assert_user_edits_kept(project)
    # Files the new answer switches off must be gone, files it switches on must be there.
    assert_same_tree(project, fresh_render(template_repo, tmp_path / "fresh", "1.1.0", after))


# --- A migration: a renamed question ------------------------------------------------------


def test_a_renamed_question_keeps_its_answer_through_the_migration(
    template_repo: Path, tmp_path: Path
) -> None:
    summary = "Tracks the parcels of a depot as they move"
    project = render_project(template_repo, tmp_path / "project", "1.1.0", {RENAMED_FROM: summary})
    edit_as_a_user(project)
    commit_all(project, "My changes")
    head = git(project, "rev-parse", "HEAD")

    # A migration runs a script: without --trust Copier refuses before touching anything.
    with pytest.raises(UnsafeTemplateError, match="migrations"):
        update(project, vcs_ref="2.0.0")
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(project, "rev-parse", "HEAD") == head

    update(project, vcs_ref="2.0.0", unsafe=True)

    assert_no_conflicts(project)
    recorded = yaml.safe_load((project / ANSWERS).read_text())
    assert recorded["_commit"] == "2.0.0"
    assert recorded[RENAMED_TO] == summary, "the old answer was lost, not migrated"
    assert RENAMED_FROM not in recorded
    assert summary in (project / "README.md").read_text()
    assert_user_edits_kept(project)
    # A plain copy of 2.0.0 needs no trust: migrations only run on update.
    fresh = fresh_render(template_repo, tmp_path / "fresh", "2.0.0", {RENAMED_TO: summary})
    assert_same_tree(project, fresh)


RENAME_CASES = {
    "renamed": ("# keep me\nname: Ada\ndescription: old\nrooms: true\n", 0),
    "already-renamed": ("# keep me\nname: Ada\nsummary: kept\n", 0),
    "never-answered": ("name: Ada\n", 0),
    "both-present": ("description: a\nsummary: b\n", 1),
}


@pytest.mark.parametrize(("answers", "status"), RENAME_CASES.values(), ids=RENAME_CASES.keys())
def test_the_rename_script_on_its_own(tmp_path: Path, answers: str, status: int) -> None:
    path = tmp_path / ANSWERS
    path.write_text(answers)
    script = ROOT / "hooks" / "rename_answer.py"
    command = [sys.executable, str(script), RENAMED_FROM, RENAMED_TO]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)

    assert result.returncode == status, result.stderr
    before, after = yaml.safe_load(answers), yaml.safe_load(path.read_text())
    if status == 0 and RENAMED_FROM in before:
        renamed = {
            (RENAMED_TO if key == RENAMED_FROM else key): value for key, value in before.items()
        }
        assert after == renamed
        assert list(after) == list(renamed), "the answers keep their order"
        assert path.read_text().startswith("# keep me\n"), "the leading comment is kept"
    else:
        assert path.read_text() == answers, "nothing to rename, or refused: the file is untouched"
    if status:
        assert "remove the one that is wrong" in result.stderr


# --- Changing the fields: the stored rows move with the schema -----------------------------

# (what the step does, the new `fields` answer, and a required column that the revision adds,
# going up or coming back down, with the default the user gives it on review for the rows
# already stored)
Step = tuple[str, str, tuple[str, str] | None]
SCHEMA_CHANGES: dict[str, tuple[dict[str, Any], list[Step], dict[str, Any]]] = {
    "user-jwt-rooms": (
        {},
        [
            ("add an optional field", "{name: str, email: str, phone: str?}", None),
            (
                "add a required field",
                "{name: str, email: str, phone: str?, age: int}",
                ("age", "0"),
            ),
            ("drop a field", "{name: str, phone: str?, age: int}", ("email", "")),
        ],
        {"name": "Grace", "phone": "+1 555 0100", "age": 85},
    ),
    "order-none-norooms": (
        {"entity": "Order", "fields": "{total: float, note: str?}", "auth": "none", "rooms": False},
        [
            ("add an optional field", "{total: float, note: str?, paid_at: datetime?}", None),
            (
                "add a required field",
                "{total: float, note: str?, paid_at: datetime?, lines: int}",
                ("lines", "1"),
            ),
            ("drop a field", "{total: float, paid_at: datetime?, lines: int}", None),
        ],
        {"total": 12.5, "paid_at": "2026-11-30T09:00:00Z", "lines": 3},
    ),
}
FIRST_DATA = {
    "user-jwt-rooms": [
        {"name": "Ada", "email": "ada@example.com"},
        {"name": "Alan", "email": "alan@example.com"},
    ],
    "order-none-norooms": [{"total": 9.99, "note": "gift"}, {"total": 100.0}],
}
JWT_SECRET = "a-development-secret-of-32-characters-or-more"


@contextlib.contextmanager
def private_postgres() -> Iterator[str]:
    """A new database on a private PostgreSQL server: the rendered projects' own test server
    (template/tests/servers/postgres.py), which skips or fails as REQUIRE_SERVERS says."""
    sys.path.insert(0, str(ROOT / "template"))  # its `bench.system`
    try:
        path = ROOT / "template" / "tests" / "servers" / "postgres.py"
        spec = importlib.util.spec_from_file_location("rendered_postgres", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with module.running_postgres() as server:
            yield server.create_database()
    finally:
        sys.path.remove(str(ROOT / "template"))


class Service:
    """The rendered service, started as `python -m <package>` on the project's `.env`."""

    def __init__(self, project: Path, log: Path) -> None:
        self.project = project
        self.log_path = log
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        answers = yaml.safe_load((project / ANSWERS).read_text())
        self.collection = f"/api/{answers['entity_plural']}"
        self.entity = re.sub(r"(?<!^)(?=[A-Z])", "_", answers["entity"]).lower()
        token = jwt.encode({"sub": "ada", "exp": int(time.time()) + 600}, JWT_SECRET)
        self.headers = {"Authorization": f"Bearer {token}"} if answers["auth"] == "jwt" else {}

    def __enter__(self) -> "Service":
        env = {**os.environ, "PYTHONPATH": str(self.project / "src"), "PORT": str(self.port)}
        self.log = self.log_path.open("wb")
        command = [sys.executable, "-m", package_of(self.project)]
        self.process = subprocess.Popen(
            command, cwd=self.project, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("the service did not start within 60 s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def create(self, data: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}{self.collection}", json=data, headers=self.headers, timeout=30
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def get(self, entity_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.url}{self.collection}/{entity_id}", headers=self.headers, timeout=30
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def create_over_websocket(self, data: dict[str, Any]) -> dict[str, Any]:
        address = f"ws://127.0.0.1:{self.port}/ws"
        async with websockets.connect(address, additional_headers=self.headers) as connection:
            await connection.send(
                json.dumps({"type": f"{self.entity}.create", "id": "c-1", "data": data})
            )
            while True:
                reply = json.loads(await connection.recv())
                if reply.get("id") == "c-1":
                    assert reply["type"] == "ack", reply
                    created: dict[str, Any] = reply["data"]
                    return created


def alembic(project: Path, *arguments: str) -> str:
    return run(project, sys.executable, "-m", "alembic", *arguments)


def with_default(revision: Path, column: str, default: str) -> None:
    """What the user does on review: rows already stored need a value for a required column."""
    text = revision.read_text()
    added = re.compile(rf'(sa\.Column\("{column}", [^\n]*nullable=False)\)')
    assert added.search(text), f"no required column {column!r} added in {revision}:\n{text}"
    revision.write_text(added.sub(rf'\1, server_default="{default}")', text))
    run(revision.parent, str(BIN / "ruff"), "format", str(revision))


@pytest.mark.parametrize(
    ("case", "database"),
    [
        ("user-jwt-rooms", "sqlite"),
        ("order-none-norooms", "sqlite"),
        ("user-jwt-rooms", "postgresql"),
    ],
)
def test_changed_fields_move_the_stored_rows_through_a_reviewed_migration(
    template_repo: Path,
    mypy_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    database: str,
) -> None:
    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 'kept.db'}"
        if database == "postgresql":
            url = stack.enter_context(private_postgres())
        changed_fields_keep_the_rows(template_repo, mypy_cache, tmp_path, monkeypatch, case, url)


def changed_fields_keep_the_rows(
    template_repo: Path,
    mypy_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    url: str,
) -> None:
    answers, steps, last_data = SCHEMA_CHANGES[case]
    project = render_project(template_repo, tmp_path / "project", "1.1.0", answers)
    env = f"DATABASE_URL={url}\nJWT_SECRET={JWT_SECRET}\nLOG_FORMAT=text\n"
    (project / ".env").write_text(env)
    versions = project / "src" / package_of(project) / "migrations" / "versions"
    first_revision = next(versions.glob("0001_*.py"))
    first_text = first_revision.read_text()
    alembic(project, "upgrade", "heads")  # `make migrate`
    with Service(project, tmp_path / "service.log") as service:
        stored = [service.create(data) for data in FIRST_DATA[case]]

    for what, fields, required in steps:
        update(project, data={"fields": fields}, vcs_ref=copier.VcsRef.CURRENT)
        assert_no_conflicts(project)
        assert first_revision.read_text() == first_text, "copier update rewrote history"
        if what == steps[0][0]:  # the project's own tests see the revision missing
            options = ("-q", "-p", "no:cacheprovider", "-n", "0", "-m", "not servers")
            unmigrated = subprocess.run(
                [sys.executable, "-m", "pytest", *options, "tests/integration/test_migrations.py"],
                cwd=project,
                env={**os.environ, "PYTHONPATH": str(project / "src")},
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert unmigrated.returncode != 0, unmigrated.stdout
            assert "make migration MESSAGE=" in unmigrated.stdout, unmigrated.stdout[-3000:]
        before = set(versions.glob("*.py"))
        alembic(project, "revision", "--autogenerate", "-m", what)  # `make migration`
        [revision] = set(versions.glob("*.py")) - before
        if required is not None:
            with_default(revision, *required)
        alembic(project, "upgrade", "heads")  # `make migrate`
        commit_all(project, what)

    with Service(project, tmp_path / "service.log") as service:
        for old in stored:
            kept = service.get(old["id"])
            assert {name: kept[name] for name in old if name in last_data} == {
                name: old[name] for name in old if name in last_data
            }, "a field that stayed lost its value"
            for name, default in (step[2] for step in steps if step[2] is not None):
                if name in last_data:
                    assert str(kept[name]) == default, f"{name}: not the revision's default"
            dropped = set(FIRST_DATA[case][0]) - set(last_data)
            assert not dropped & set(kept), f"dropped, yet still served: {dropped & set(kept)}"
        assert set(service.create(last_data)) >= set(last_data)
        assert set(asyncio.run(service.create_over_websocket(last_data))) >= set(last_data)

    run(project, str(BIN / "ruff"), "check", ".")
    run(project, str(BIN / "ruff"), "format", "--check", ".")
    monkeypatch.setenv("MYPY_CACHE_DIR", str(mypy_cache))
    run(project, str(BIN / "mypy"))
    run(project, str(BIN / "lint-imports"))
    pytest_options = ("-q", "-p", "no:cacheprovider", "-n", "0", "-x", "-m", "not servers")
    run(project, sys.executable, "-m", "pytest", *pytest_options, *PROJECT_TESTS)
    alembic(project, "downgrade", "-1")  # the newest revision undone on a populated database
    alembic(project, "upgrade", "heads")
