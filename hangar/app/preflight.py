"""Checks made before a provider is recorded from a template, so a mistake is refused with its
cause at once instead of surfacing later as an unexplained start failure."""

from __future__ import annotations

import os
import shutil

from hangar.domain.errors import ValidationError
from hangar.domain.provider_spec import ProviderSpec


def require_command_on_path(spec: ProviderSpec, where: str) -> None:
    """A subprocess provider's program must exist: absolute/relative paths must be executable
    files, bare names must be found on ``PATH`` (the provider's own ``PATH`` when it sets one)."""
    if spec.mode != "subprocess" or not spec.command:
        return
    program = spec.command[0]
    path = spec.env.get("PATH") or os.environ.get("PATH")
    if os.sep in program:
        found = os.path.isfile(program) and os.access(program, os.X_OK)
    else:
        found = shutil.which(program, path=path) is not None
    if not found:
        raise ValidationError(
            f"{where}: command '{program}' was not found on PATH; install it, or deploy with a "
            f"container image (mode docker)"
        )
