"""`python -m` entry point: read the settings, then serve HTTP and WebSocket on one port.

A start-up that fails ends with a line or two naming the setting to change, and exit code 1;
the traceback behind it only with LOG_LEVEL=debug.
"""

import sys

from .server import StartupError, serve
from .settings import SettingsError, load_settings


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as error:
        sys.exit(f"{error}\nFix the environment (or .env) and start again.")
    try:
        serve(settings)
    except StartupError as error:
        if settings.log_level == "debug":
            raise
        sys.exit(str(error))


if __name__ == "__main__":
    main()
