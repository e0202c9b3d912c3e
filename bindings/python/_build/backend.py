"""PEP 517 backend: setuptools, after building libsigma_auth.so with cargo.

Where the Rust sources come from:
- in an sdist, ``rust/`` beside this package holds the crate as ``cargo package``
  made it (sources, Cargo.lock), so ``pip install sigma_auth-<v>.tar.gz`` works on
  any machine with cargo;
- in the repository, the Cargo workspace above ``bindings/python``.
The library is built in release mode and copied into the package. Set
SIGMA_AUTH_PREBUILT to an already built libsigma_auth.so to skip cargo (how
``make dist`` makes the manylinux wheels), and SIGMA_AUTH_WHEEL_PLATFORM to the
platform tag such a library was built for (see setup.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Optional

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401  (re-exported hooks)
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_wheel,
)

HERE = Path(__file__).resolve().parent.parent
# What cargo names the shared library here (the package loads the same name).
LIBRARY_NAME = "libsigma_auth.dylib" if sys.platform == "darwin" else "libsigma_auth.so"
PACKAGE_LIBRARY = HERE / "sigma_auth" / LIBRARY_NAME
SDIST_CRATE = HERE / "rust"


def _say(message: str) -> None:
    # pip shows a backend's output with -v, and always when the build fails.
    print(f"sigma-auth: {message}", file=sys.stderr, flush=True)


def _workspace_root() -> Path:
    for directory in [HERE, *HERE.parents]:
        manifest = directory / "Cargo.toml"
        if manifest.is_file() and "[workspace]" in manifest.read_text():
            return directory
    raise RuntimeError(
        "sigma-auth: no Rust sources: this is neither an sdist (with rust/) nor a checkout of the "
        "repository; install a wheel, or set SIGMA_AUTH_PREBUILT to a built libsigma_auth.so"
    )


def _cargo_build(crate: Path, target: Path) -> Path:
    cargo = os.environ.get("CARGO", "cargo")
    if shutil.which(cargo) is None:
        raise RuntimeError("sigma-auth: building from source needs cargo (https://rustup.rs); or install a wheel")
    _say(f"building the Rust library with cargo in {crate} (release, about a minute; pip -v shows progress)")
    subprocess.run([cargo, "build", "--release", "--locked", "--lib", "-p", "sigma-auth",
                    "--target-dir", str(target)], cwd=crate, check=True)
    return target / "release" / LIBRARY_NAME


def _build_native() -> None:
    prebuilt = os.environ.get("SIGMA_AUTH_PREBUILT")
    if prebuilt:
        source = Path(prebuilt)
    elif (SDIST_CRATE / "Cargo.toml").is_file():
        source = _cargo_build(SDIST_CRATE, Path(os.environ.get("CARGO_TARGET_DIR", SDIST_CRATE / "target")))
    else:
        root = _workspace_root()
        target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
        source = _cargo_build(root, target if target.is_absolute() else root / target)
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
    """The sdist carries the crate under rust/ (from ``cargo package``, so exactly
    the files a crate publishes, with Cargo.lock and no workspace)."""
    if (SDIST_CRATE / "Cargo.toml").is_file():  # building an sdist from an sdist
        return _setuptools.build_sdist(sdist_directory, config_settings)
    root = _workspace_root()
    with tempfile.TemporaryDirectory() as scratch:
        cargo = os.environ.get("CARGO", "cargo")
        subprocess.run([cargo, "package", "--locked", "--no-verify", "--allow-dirty", "-p", "sigma-auth",
                        "--target-dir", scratch], cwd=root, check=True)
        crate = next(Path(scratch, "package").glob("sigma-auth-*.crate"))
        with tarfile.open(crate) as archive:
            try:
                archive.extractall(scratch, filter="data")
            except TypeError:  # Python without extraction filters; the archive is cargo's own
                archive.extractall(scratch)
        shutil.copytree(Path(scratch, crate.name.removesuffix(".crate")), SDIST_CRATE)
    try:
        return _setuptools.build_sdist(sdist_directory, config_settings)
    finally:
        shutil.rmtree(SDIST_CRATE)


def get_requires_for_build_editable(config_settings: Optional[dict[str, Any]] = None) -> list[str]:
    return _setuptools.get_requires_for_build_editable(config_settings)
