"""Large result bodies handed from a search process to the server through a file in /dev/shm.

The pool's pipe took ~35 ms for 13 MB (pickled, then written and read 64 KiB at a time), the file
~4 ms. A plain file write fails cleanly when /dev/shm is full (a container's 64 MB), where writing
into a mapped SharedMemory would kill the worker with SIGBUS; the pipe is then the fallback.
"""

from __future__ import annotations

import os
import uuid
from contextlib import suppress
from typing import Final

from ..results import SearchBody

# Bodies above this size go through a file; smaller ones through the pipe.
SPILL_ABOVE: Final = 256 * 1024


def spill_prefix() -> str | None:
    """Path prefix of the files a server's workers leave their results in; None: use the pipe."""
    folder = "/dev/shm"
    if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
        return None
    return os.path.join(folder, f"aurorax-core-{os.getpid()}-{uuid.uuid4().hex[:8]}-")


def spill(result: SearchBody, prefix: str | None) -> tuple[SearchBody, str | None]:
    """In a worker: (the result without its body, the file holding it), or the result unchanged
    and None when it is small, there is no folder, or the write failed."""
    if prefix is None or len(result.body) <= SPILL_ABOVE:
        return result, None
    path = prefix + uuid.uuid4().hex
    try:
        with open(path, "xb") as out:
            out.write(result.body)
    except OSError:  # e.g. /dev/shm is full: send it through the pipe
        with suppress(OSError):
            os.unlink(path)
        return result, None
    return result._replace(body=b""), path


def spilled_size(result: SearchBody, path: str | None) -> int:
    """The body's size, whether it is in the result or in the file (0 when the file is gone)."""
    if path is None:
        return len(result.body)
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def take_spilled(result: SearchBody, path: str | None) -> SearchBody:
    """The worker's result with its body read back from the file it left, which is removed."""
    if path is None:
        return result
    try:
        with open(path, "rb") as spilled:
            body = spilled.read()
    finally:
        discard(path)
    return result._replace(body=body)


def discard(path: str | None) -> None:
    if path is not None:
        with suppress(OSError):
            os.unlink(path)


def remove_leftovers(prefix: str | None) -> None:
    """Remove the bodies of searches that finished after the server stopped taking them."""
    if prefix is None:
        return
    folder, name = os.path.split(prefix)
    with suppress(OSError):
        for entry in os.listdir(folder):
            if entry.startswith(name):
                discard(os.path.join(folder, entry))
