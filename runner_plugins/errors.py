"""Runner error hierarchy.

::

    RunnerError
    ├── ConfigError          bad command line or environment (exit before serving)
    ├── RegistryError        plugin module missing, malformed or registering a name twice
    ├── ProtocolError        the peer broke the ext-plugin protocol; the connection is dropped
    │   ├── FrameTooLarge    a payload over the 3-byte length field (or a configured limit)
    │   └── DecodeError      a payload that is not the FlatBuffers table it claims to be
    └── RunnerUnavailable    client side: the runner could not answer (APISIX would send 503)
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DecodeError",
    "FrameTooLarge",
    "ProtocolError",
    "RegistryError",
    "RunnerError",
    "RunnerUnavailable",
]


class RunnerError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(RunnerError):
    """The runner's own configuration (flags, environment) is unusable."""


class RegistryError(RunnerError):
    """A plugin module could not be loaded or registered a duplicate name."""


class ProtocolError(RunnerError):
    """The peer sent something the protocol does not allow."""


class FrameTooLarge(ProtocolError):
    """A payload longer than the frame header (or the configured limit) allows."""


class DecodeError(ProtocolError):
    """A payload that does not decode as the expected FlatBuffers table."""


class RunnerUnavailable(RunnerError):
    """Client side: the runner failed the call (connect, timeout, error frame, bad reply).

    ``code`` is the runner's error code when it answered with an error frame, else None.
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
