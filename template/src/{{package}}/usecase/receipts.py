"""Receipts: the reply to a write, stored in the same transaction as the write.

A client that re-sends a write (after a reconnect, a restart of the service, or to another
instance) gets the reply of the first one, and the write happens once: the receipt commits
with the write or not at all, and a second receipt for the same request cannot be stored.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Request:
    """Who asked, under which id, and a digest of what they asked (type and data)."""

    subject: str
    id: str
    digest: str


@dataclass(frozen=True, slots=True)
class Receipt:
    request: Request
    reply: dict[str, Any]  # what the first request was answered


class RequestAlreadyDoneError(Exception):
    """Another run of the same request stored its receipt first (a re-send raced it)."""


class ReceiptStore(ABC):
    @abstractmethod
    async def find(self, subject: str, request_id: str) -> Receipt | None: ...
