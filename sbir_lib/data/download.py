"""HTTP download with retries, resume and sha256 verification; safe archive extraction.

Only the standard library (``urllib``) and a progress bar (:mod:`sbir_lib.progress`) are used. A download goes to ``<dest>.part``
next to its destination, is resumed with an HTTP ``Range`` request after a dropped connection,
is verified against its sha256 (when known) and only then moved atomically (``os.replace``) to
``dest``: a failed or mismatching download never leaves a file at ``dest``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import stat
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from http.client import HTTPException
from pathlib import Path, PurePosixPath

from ..errors import DataError

__all__ = ["sha256_of", "verify_sha256", "download", "extract_archive", "DownloadError"]

USER_AGENT = "sbir_lib-data/0.1 (+https://github.com/; research dataset fetcher)"
_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


class DownloadError(DataError):
    """Every URL of a resource failed (HTTP error, network down, checksum mismatch)."""


def sha256_of(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise :class:`DataError` naming the file when its sha256 is not ``expected``."""
    actual = sha256_of(path)
    if actual.lower() != expected.lower():
        raise DataError(f"{path}: sha256 mismatch (expected {expected}, got {actual}); "
                        "the file is corrupt, truncated or not the published one")


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _download_once(url: str, part: Path, timeout: float, progress: bool, desc: str) -> None:
    """Append the rest of ``url`` to ``part`` (resuming from its size). Raises on a short read."""
    from ..progress import progress_bar

    offset = part.stat().st_size if part.exists() else 0
    with _open(url, offset, timeout) as resp:
        status = getattr(resp, "status", 200)
        if offset and status != 206:  # server ignored the Range header: start again
            offset = 0
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        mode = "ab" if offset else "wb"
        with open(part, mode) as fh, progress_bar(total=total, initial=offset, unit="B", unit_scale=True,
                                                  unit_divisor=1024, desc=desc, enabled=progress,
                                                  leave=False) as bar:
            while True:
                block = resp.read(1 << 16)
                if not block:
                    break
                fh.write(block)
                bar.update(len(block))
    got = part.stat().st_size
    if total is not None and got < total:
        raise ConnectionError(f"connection closed after {got} of {total} bytes")


def download(urls: str | Sequence[str], dest: str | os.PathLike, *, sha256: str | None = None,
             size: int | None = None, retries: int = 4, backoff: float = 1.0, timeout: float = 60.0,
             progress: bool = True) -> Path:
    """Download the first working URL of ``urls`` to ``dest``; return ``dest``.

    Args:
        urls: one URL or mirrors tried in order (already percent-encoded).
        dest: final path; the parent folder is created.
        sha256: expected hex digest; a mismatch deletes the download and tries the next URL.
        size: expected size in bytes (checked when given).
        retries: attempts per URL after network errors and 5xx/429 answers (resuming each time);
            404 and other 4xx answers move on to the next URL at once.
        backoff: seconds before the first retry, doubled after each.
    Raises:
        DownloadError: every URL failed; the message lists each URL's failure.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    failures: list[str] = []
    for url in urls:
        for attempt in range(retries + 1):
            try:
                _download_once(url, part, timeout, progress, dest.name)
            except urllib.error.HTTPError as exc:
                if exc.code == 416 and part.exists():  # range beyond the end: restart cleanly
                    part.unlink()
                if exc.code not in _RETRYABLE_STATUS and exc.code != 416:
                    failures.append(f"{url}: HTTP {exc.code} {exc.reason}")
                    break
                failures.append(f"{url}: HTTP {exc.code} (attempt {attempt + 1})")
            except (urllib.error.URLError, HTTPException, ConnectionError, socket.timeout, TimeoutError,
                    OSError) as exc:
                reason = getattr(exc, "reason", exc)
                failures.append(f"{url}: {type(exc).__name__}: {reason} (attempt {attempt + 1})")
            else:
                problem = _check_download(part, sha256, size)
                if problem is None:
                    os.replace(part, dest)
                    return dest
                part.unlink(missing_ok=True)
                failures.append(f"{url}: {problem}")
                break
            if attempt < retries:
                time.sleep(backoff * (2 ** attempt))
        else:
            part.unlink(missing_ok=True)  # retries exhausted on this URL: do not keep a partial file
    part.unlink(missing_ok=True)
    raise DownloadError(f"could not download {dest.name}:\n  " + "\n  ".join(failures))


def _check_download(part: Path, sha256: str | None, size: int | None) -> str | None:
    if size is not None and part.stat().st_size != size:
        return f"size mismatch (expected {size} bytes, got {part.stat().st_size})"
    if sha256 is not None:
        actual = sha256_of(part)
        if actual.lower() != sha256.lower():
            return f"sha256 mismatch (expected {sha256}, got {actual}); download rejected"
    return None


# ----------------------------------------------------------------------------- extraction

def _member_target(root: Path, name: str, archive: Path) -> Path:
    """Resolved destination of archive member ``name`` under ``root``; refuses escaping paths."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or (pure.parts and ":" in pure.parts[0]) or ".." in pure.parts:
        raise DataError(f"{archive}: refusing archive member {name!r}: its path escapes the target folder")
    target = (root / pure).resolve()
    if not target.is_relative_to(root.resolve()):
        raise DataError(f"{archive}: refusing archive member {name!r}: its path escapes the target folder")
    return target


def extract_archive(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Extract a zip or tar(.gz/.bz2/.xz) archive into the folder ``target``; return ``target``.

    Every member is checked first: absolute paths, ``..`` components, links pointing outside
    the target and device files are refused with :class:`DataError` before anything is written.
    Extraction happens in a temporary sibling folder that is renamed to ``target`` at the end,
    so an interrupted extraction leaves no half-filled ``target``.
    """
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise DataError(f"{target} already exists; remove it to extract {archive.name} again")
    tmp = target.with_name(f".{target.name}.extracting-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _member_target(tmp, info.filename, archive)
                    if stat.S_ISLNK(info.external_attr >> 16):
                        raise DataError(f"{archive}: refusing symbolic link member {info.filename!r}")
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for m in members:
                    dest = _member_target(tmp, m.name, archive)
                    if m.issym() or m.islnk():
                        base = dest.parent if m.issym() else tmp.resolve()
                        link = Path(os.path.normpath(base / m.linkname))
                        if os.path.isabs(m.linkname) or not link.is_relative_to(tmp.resolve()):
                            raise DataError(f"{archive}: refusing link member {m.name!r} -> {m.linkname!r}: "
                                            "it points outside the target folder")
                    elif not (m.isfile() or m.isdir()):
                        raise DataError(f"{archive}: refusing special file member {m.name!r}")
                if sys.version_info >= (3, 12):
                    tf.extractall(tmp, members=members, filter="data")
                else:  # pragma: no cover - members were checked above
                    tf.extractall(tmp, members=members)
        else:
            raise DataError(f"{archive}: not a zip or tar archive (or truncated)")
        os.replace(tmp, target)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{archive}: cannot extract ({type(exc).__name__}: {exc}); "
                        "the archive is corrupt or truncated") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
