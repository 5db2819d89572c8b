"""Process signals shared by the CLIs."""

from __future__ import annotations

import signal
from types import FrameType
from typing import NoReturn


def exit_zero_on_sigterm() -> None:
    """Make a SIGTERM stop end the process with status 0.

    SIGTERM is how containers and process managers stop a service. uvicorn shuts down gracefully on it and
    then re-raises the signal it captured; with the default handler the process then ends as "killed by
    SIGTERM" (143), which looks like a failure. With this handler that re-raise (or a SIGTERM arriving
    before the server installed its own handlers) becomes a normal exit.
    """
    signal.signal(signal.SIGTERM, _exit_zero)


def _exit_zero(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(0)
