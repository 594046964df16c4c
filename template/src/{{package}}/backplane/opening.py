"""What can stop the start-up on the backplane's side, said plainly, passwords hidden."""

import re

PASSWORD = re.compile(r"(?<=://)([^:/@]*):[^@/]*@")


class BackplaneUnavailableError(Exception):
    """BACKPLANE_URL names a Redis the service cannot use; the message says how to fix it."""


def redacted(url: str) -> str:
    """`url` with its password, if any, replaced by ***: error output reaches logs."""
    return PASSWORD.sub(r"\1:***@", url)
