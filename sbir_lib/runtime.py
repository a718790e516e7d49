"""Run-time helpers shared by every chapter: profile, device, seeds and an environment report.

A chapter's ``parameters`` cell sets ``PROFILE``, ``SEED``, ``DEVICE`` and ``DATA_ROOT``; the cells
after it call these helpers so that every chapter runs the same way locally, in CI (papermill)
and in Colab.
"""

from __future__ import annotations

import importlib
import os
import platform
import random
import sys
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "PROFILES",
    "in_colab",
    "select_profile",
    "resolve_device",
    "seed_everything",
    "environment_report",
    "print_environment",
    "Stopwatch",
    "use_data_root",
]

#: The two run profiles of the book: ``ci`` (2-core CPU, minutes, small data) and ``full``
#: (a GPU, the real datasets at the papers' sizes).
PROFILES = ("ci", "full")


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def select_profile(profile: str, settings: Mapping[str, Mapping[str, Any]],
                   overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return ``settings[profile]`` as a new dict, checking the profile name, with ``overrides`` applied.

    Args:
        profile: ``"ci"`` or ``"full"`` (the chapter's ``PROFILE`` parameter).
        settings: one mapping of hyper-parameters per profile.
        overrides: the chapter's ``OVERRIDES`` parameter: settings to replace by name, e.g.
            ``{"step4_steps": 1000}`` (a shorter run of the ``full`` code on a CPU). Only names the
            profile already has are accepted; the chapter records what was overridden in its results.

    Raises:
        ValueError: unknown profile, a profile missing from ``settings``, or an override of a
            setting the profile does not have.
    """
    if profile not in PROFILES:
        raise ValueError(f"PROFILE must be one of {PROFILES}, got {profile!r}")
    if profile not in settings:
        raise ValueError(f"this chapter defines no settings for profile {profile!r} (has {sorted(settings)})")
    config = dict(settings[profile])
    if overrides:
        if not isinstance(overrides, Mapping):
            raise ValueError(f"OVERRIDES must be a dict of setting name -> value, got {type(overrides).__name__}")
        unknown = sorted(set(overrides) - set(config))
        if unknown:
            raise ValueError(f"OVERRIDES names settings that profile {profile!r} does not have: {unknown} "
                             f"(it has {sorted(config)})")
        config.update(overrides)
    return config


def resolve_device(device: str = "auto"):
    """Turn the ``DEVICE`` parameter into a :class:`torch.device`.

    ``"auto"`` picks ``cuda`` when a GPU is available, else ``cpu``. An explicit ``"cuda"``
    on a machine without CUDA raises ``RuntimeError`` rather than silently running on the CPU.
    """
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"DEVICE: {device!r} is not a torch device name ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"DEVICE={device!r} was requested but CUDA is not available; use DEVICE='auto' or 'cpu'")
    return dev


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA).

    With ``deterministic`` cuDNN is put in deterministic mode (no autotuning), so that the same
    seed gives the same numbers on the same device.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"SEED must be an int, got {type(seed).__name__}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    os.environ["PYTHONHASHSEED"] = str(int(seed))
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.manual_seed(int(seed))
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(int(seed))
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def _version(module_name: str) -> str | None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return getattr(module, "__version__", "unknown")


def environment_report(device=None) -> dict[str, Any]:
    """Versions of the packages a chapter depends on, and the device it runs on."""
    from . import __version__

    report: dict[str, Any] = {
        "python": platform.python_version(),
        "sbir_lib": __version__,
        "torch": _version("torch"),
        "numpy": _version("numpy"),
        "ipywidgets": _version("ipywidgets"),
        "ipycanvas": _version("ipycanvas"),
        "platform": platform.platform(),
        "colab": in_colab(),
    }
    if device is not None:
        report["device"] = str(device)
        if str(device).startswith("cuda"):
            import torch

            report["gpu"] = torch.cuda.get_device_name(torch.device(device))
    report["cpu_threads"] = os.cpu_count()
    return report


def print_environment(device=None) -> dict[str, Any]:
    """Print :func:`environment_report` one line per entry and return it."""
    report = environment_report(device)
    width = max(len(k) for k in report)
    for key, value in report.items():
        print(f"{key:<{width}} : {value}")
    return report


def use_data_root(data_root=None):
    """Apply a chapter's ``DATA_ROOT`` parameter and return the dataset cache folder in use.

    ``None`` keeps ``$SBIR_DATA`` (or the user cache folder); a path makes it the cache for this
    process (sets ``$SBIR_DATA``). Mirrors (``$SBIR_DATA_MIRROR``) are still looked at first.
    """
    from pathlib import Path

    if data_root is not None:
        os.environ["SBIR_DATA"] = str(Path(data_root).expanduser().resolve())
    from .data.paths import cache_dir

    return cache_dir()


class Stopwatch:
    """Wall-clock timer for a chapter run: ``sw = Stopwatch(); ...; sw.elapsed`` (seconds)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
