"""This process's open staff sockets, by account (PRES-1). The heartbeat writes them to the
database as signs of life, so that every process sees who is there; the deciding process
also counts its own open sockets at once."""

from __future__ import annotations

from collections import Counter


class LiveSockets:
    def __init__(self) -> None:
        self._open: Counter[int] = Counter()

    def opened(self, account_id: int) -> None:
        self._open[account_id] += 1

    def closed(self, account_id: int) -> bool:
        """True when this was the account's last socket on this process."""
        self._open[account_id] -= 1
        if self._open[account_id] > 0:
            return False
        del self._open[account_id]
        return True

    def accounts(self) -> frozenset[int]:
        return frozenset(self._open)
