"""What the benchmark needs to know of the project it runs in, read from the project itself.

The package name comes from pyproject.toml (or `--package`); the rest from the service's own
code, wired as it runs: its settings say which authentication it has (`JWT_SECRET` or
`API_TOKENS`), its router which messages it answers (rooms or not, the entity's operations
and the schema of a create), and its routes where REST lives. Nothing here is rendered by the
template, so the benchmark keeps working as the project grows.
"""

import importlib
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Frame = dict[str, Any]


@dataclass(frozen=True)
class Project:
    root: Path
    package: str
    auth: str  # "none", "token" or "jwt"
    rooms: bool
    entity: str  # snake name, as in `<entity>.create`
    collection: str  # REST path, e.g. /api/users
    sample: Frame  # valid data for a create
    compression: bool  # WS_COMPRESSION as shipped
    settings: frozenset[str]  # the environment variables the service reads

    @property
    def source(self) -> Path:
        return self.root / "src"


def package_name(root: Path) -> str:
    """The service's package: the first of the import-linter root packages in pyproject.toml."""
    with (root / "pyproject.toml").open("rb") as file:
        pyproject = tomllib.load(file)
    tool = pyproject.get("tool", {})
    roots = tool.get("importlinter", {}).get("root_packages", [])
    wheel = tool.get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
    candidates = [*roots, *(Path(path).name for path in wheel.get("packages", []))]
    for candidate in candidates:
        if not candidate.endswith("_client"):
            return str(candidate)
    raise SystemExit("cannot tell the service's package from pyproject.toml; pass --package")


def discover(root: Path, package: str | None = None) -> Project:
    package = package or package_name(root)
    source = str(root / "src")
    if source not in sys.path:
        sys.path.insert(0, source)
    settings_module = importlib.import_module(f"{package}.settings")
    app_module = importlib.import_module(f"{package}.app")
    fields = settings_module.Settings.model_fields
    auth = "jwt" if "jwt_secret" in fields else "token" if "api_tokens" in fields else "none"
    compression = bool(fields["ws_compression"].default) if "ws_compression" in fields else False
    settings = settings_module.Settings(
        _env_file=None,
        database_url="sqlite:///:memory:",
        jwt_secret="bench-discovery-" + "x" * 32,
        api_tokens="bench-discovery-token:bench",
    )
    app = app_module.create_app(settings)
    requests: dict[str, Any] = app.state.router.requests
    creates = [kind.removesuffix(".create") for kind in requests if kind.endswith(".create")]
    if len(creates) != 1:
        raise SystemExit(f"expected one `<entity>.create` message, found {creates}")
    entity = creates[0]
    collections = [
        path
        for route in app.routes
        if (path := getattr(route, "path", "")).startswith("/api/") and "{" not in path
    ]
    if not collections:
        raise SystemExit("no REST collection under /api/ found")
    model = requests[f"{entity}.create"]
    sample = sample_data(model.model_json_schema())
    model.model_validate(sample)  # fails loudly if the guess does not fit
    return Project(
        root=root,
        package=package,
        auth=auth,
        rooms="room.publish" in requests,
        entity=entity,
        collection=collections[0],
        sample=sample,
        compression=compression,
        settings=frozenset(name.upper() for name in fields),
    )


def sample_data(schema: Frame) -> Frame:
    """A valid create from the model's JSON schema: a value for each required field."""
    properties: Frame = schema.get("properties", {})
    return {name: sample_value(name, properties[name]) for name in schema.get("required", [])}


def sample_value(name: str, schema: Frame) -> Any:
    kinds = [schema] + [option for option in schema.get("anyOf", []) if isinstance(option, dict)]
    for kind in kinds:
        match kind.get("type"):
            case "string" if kind.get("format") == "date-time":
                return "2026-01-01T00:00:00Z"
            case "string" if name == "email" or name.endswith("_email"):
                return "bench@example.com"
            case "string":
                return f"bench {name}"
            case "integer":
                return 1
            case "number":
                return 1.5
            case "boolean":
                return True
    return None
