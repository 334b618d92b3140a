"""Tests never reach the internet: sockets may only connect to loopback."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

# ``url`` and ``backend`` (the in-memory fakes and SQLite, for the same storage scenario).
pytest_plugins = ["tests.storage_backends"]

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if isinstance(address, tuple):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise RuntimeError(f"test tried to reach {host}: tests stay on loopback")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
