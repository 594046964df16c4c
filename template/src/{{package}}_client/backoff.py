"""How long to wait before the next reconnection attempt: exponential backoff, full jitter."""

import random
from collections.abc import Callable

Jitter = Callable[[], float]  # a number drawn uniformly from [0, 1)


class Backoff:
    """Delays drawn uniformly from [0, min(cap, base * 2**attempt)] ("full jitter").

    The window doubles with every failed attempt so that a struggling service is asked less
    and less often; the whole window is used so that clients dropped together (a restart, a
    network blip) come back spread out instead of in one stampede. `reset` after a connection
    that worked: the next outage starts again from `base`.
    """

    def __init__(
        self, base: float = 0.5, cap: float = 30.0, jitter: Jitter = random.random
    ) -> None:
        self.base = base
        self.cap = cap
        self._jitter = jitter
        self._attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failed attempt."""
        window: float = min(self.cap, self.base * 2**self._attempt)
        if window < self.cap:
            self._attempt += 1  # stop counting at the cap: 2**attempt would overflow a float
        return self._jitter() * window

    def reset(self) -> None:
        self._attempt = 0
