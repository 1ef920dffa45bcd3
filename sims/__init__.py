"""Simulations: the model families' kernels, references and runs (``sims/families/``) and what
they share.

Numba's on-disk cache keys a compiled function by its own source file only: after an edit of a
function it calls from another file (``sims/blocks.py`` for every neural kernel), the old machine
code would still be loaded, and runs would silently compute with the old code. So the cache lives
in a folder named by a fingerprint of every source file of this package (``kernel_cache_dir``),
under ``$NUMBA_CACHE_DIR`` if set, else the user's cache folder: any edit, or an update of the
project, starts a fresh cache. Old folders are never read again; deleting them is safe.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numba


def source_fingerprint(root: Path) -> str:
    """A digest of the names and contents of every ``.py`` file under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def kernel_cache_dir() -> Path:
    """Where this package's compiled kernels are cached (see the module docstring); with no home
    directory to find (no ``$HOME``, no entry in the password database), the temporary folder."""
    root = os.environ.get("NUMBA_CACHE_DIR")
    if not root:
        user_cache = os.environ.get("XDG_CACHE_HOME")
        if not user_cache:
            try:
                user_cache = Path.home() / ".cache"
            except RuntimeError:
                user_cache = tempfile.gettempdir()
        root = Path(user_cache) / "stagewise" / "numba"
    return Path(root) / f"sims-{source_fingerprint(Path(__file__).parent)}"


# Set before any kernel module is imported: Numba picks a function's cache folder when it is
# decorated.
numba.config.CACHE_DIR = str(kernel_cache_dir())
