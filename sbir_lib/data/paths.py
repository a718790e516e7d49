"""Where datasets live: the user cache (``SBIR_DATA``) and read-only mirrors (``SBIR_DATA_MIRROR``).

* ``SBIR_DATA`` -- the cache folder downloads go to. Default: the user cache dir
  (``platformdirs.user_cache_dir("sbir_lib")`` when platformdirs is installed, else
  ``$XDG_CACHE_HOME/sbir_lib`` or ``~/.cache/sbir_lib``).
* ``SBIR_DATA_MIRROR`` -- folders (separated by ``os.pathsep``, ``:`` on Linux/macOS) searched
  before the cache, e.g. ``../shared/data``. Files are looked up under the same relative path as
  in the cache (the resource name). A mirror may hold a ``SHA256SUMS`` file
  (``<hex>  ./relative/path`` lines) against which its files are verified.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

__all__ = ["cache_dir", "mirror_dirs", "mirror_checksums"]


def cache_dir() -> Path:
    """The cache root (not created here)."""
    env = os.environ.get("SBIR_DATA")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs
        return Path(platformdirs.user_cache_dir("sbir_lib"))
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "sbir_lib"


def mirror_dirs() -> list[Path]:
    """Existing folders listed in ``SBIR_DATA_MIRROR``, in order."""
    env = os.environ.get("SBIR_DATA_MIRROR", "")
    return [Path(p).expanduser() for p in env.split(os.pathsep) if p and Path(p).expanduser().is_dir()]


def mirror_checksums(root: Path) -> dict[str, str]:
    """``relative/path -> sha256`` from ``root/SHA256SUMS`` (empty when there is none)."""
    manifest = root / "SHA256SUMS"
    if not manifest.is_file():
        return {}
    st = manifest.stat()
    return _read_manifest(str(manifest), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=8)
def _read_manifest(path: str, _mtime: int, _size: int) -> dict[str, str]:
    sums = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            digest, _, rel = line.partition("  ")
            rel = rel.lstrip("*")
            if rel.startswith("./"):
                rel = rel[2:]
            sums[rel] = digest.strip().lower()
    return sums
