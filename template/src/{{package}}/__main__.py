"""`python -m` entry point: read the settings, then serve HTTP and WebSocket on one port."""

import sys

from .server import serve
from .settings import SettingsError, load_settings


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as error:
        sys.exit(f"{error}\nFix the environment (or .env) and start again.")
    serve(settings)


if __name__ == "__main__":
    main()
