"""mallbridge sandbox: a local MALL Partner API that enforces MALL's documented rules strictly."""

from mallbridge_sandbox.app import SandboxApp, create_app
from mallbridge_sandbox.clock import ManualClock, system_clock
from mallbridge_sandbox.errors import ErrorCode
from mallbridge_sandbox.faults import FaultConfig, FaultKind
from mallbridge_sandbox.partners import Partner, PartnersError, load_partners
from mallbridge_sandbox.server import SandboxServer

__all__ = [
    "ErrorCode",
    "FaultConfig",
    "FaultKind",
    "ManualClock",
    "Partner",
    "PartnersError",
    "SandboxApp",
    "SandboxServer",
    "create_app",
    "load_partners",
    "system_clock",
]
