"""Marks the wheel as platform-specific but Python-version-independent
(py3-none-<platform>): it carries a native library, not an extension module.

SIGMA_AUTH_WHEEL_PLATFORM sets the platform tag, for a library built against an
older glibc than this machine's (``make dist``:
manylinux_2_17_x86_64.manylinux2014_x86_64); otherwise it is this machine's.
"""

import os

from setuptools import setup
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]


class PlatformWheel(bdist_wheel):  # type: ignore[misc, valid-type]
    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> tuple[str, str, str]:
        _, _, platform = super().get_tag()
        return "py3", "none", os.environ.get("SIGMA_AUTH_WHEEL_PLATFORM", platform)


class NativeDistribution(Distribution):
    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"bdist_wheel": PlatformWheel}, distclass=NativeDistribution)
