"""PEP 517 backend: setuptools, after building libsigma_auth.so with cargo.

The library is built from the repository this package sits in (found by walking
up to the Cargo workspace), in release mode, into the workspace's shared target
directory, and copied into the package. Set SIGMA_AUTH_PREBUILT to the path of an
already built libsigma_auth.so to skip cargo.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Optional

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401  (re-exported hooks)
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_wheel,
)

HERE = Path(__file__).resolve().parent.parent
PACKAGE_LIBRARY = HERE / "sigma_auth" / "libsigma_auth.so"


def _workspace_root() -> Path:
    for directory in [HERE, *HERE.parents]:
        manifest = directory / "Cargo.toml"
        if manifest.is_file() and "[workspace]" in manifest.read_text():
            return directory
    raise RuntimeError(
        "sigma-auth: cannot find the Rust workspace above bindings/python; "
        "build from a checkout of the repository or set SIGMA_AUTH_PREBUILT"
    )


def _build_native() -> None:
    prebuilt = os.environ.get("SIGMA_AUTH_PREBUILT")
    if prebuilt:
        source = Path(prebuilt)
    else:
        root = _workspace_root()
        cargo = os.environ.get("CARGO", "cargo")
        subprocess.run([cargo, "build", "--release", "--locked", "-p", "sigma-auth"], cwd=root, check=True)
        target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
        if not target.is_absolute():
            target = root / target
        source = target / "release" / "libsigma_auth.so"
    shutil.copyfile(source, PACKAGE_LIBRARY)


def build_wheel(wheel_directory: str, config_settings: Optional[dict[str, Any]] = None,
                metadata_directory: Optional[str] = None) -> str:
    _build_native()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory: str, config_settings: Optional[dict[str, Any]] = None,
                   metadata_directory: Optional[str] = None) -> str:
    _build_native()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory: str, config_settings: Optional[dict[str, Any]] = None) -> str:
    return _setuptools.build_sdist(sdist_directory, config_settings)


def get_requires_for_build_editable(config_settings: Optional[dict[str, Any]] = None) -> list[str]:
    return _setuptools.get_requires_for_build_editable(config_settings)
