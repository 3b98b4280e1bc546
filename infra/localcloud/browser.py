"""Debian's chromium and chromedriver, which the dashboard's browser test drives through selenium.

`python -m localcloud.browser` (run by `make test`) installs them with apt-get when they are missing
and this runs as root, and otherwise says how to install them. Nothing is ever downloaded from
anywhere but Debian's own packages: selenium is always given both paths, so its manager never runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

PACKAGES = ("chromium", "chromium-driver")
INSTALL_HINT = "apt-get install chromium chromium-driver (as root)"

_CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser")
_CHROMEDRIVER = ("/usr/bin/chromedriver", "chromedriver")


@dataclass(frozen=True, slots=True)
class Browser:
    chromium: str
    chromedriver: str


def _first(candidates: tuple[str, ...]) -> str | None:
    for candidate in candidates:
        if os.path.isabs(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
        elif found := shutil.which(candidate):
            return found
    return None


def find_browser() -> Browser | None:
    """Both programs, or None when either is missing."""
    chromium, chromedriver = _first(_CHROMIUM), _first(_CHROMEDRIVER)
    if chromium is None or chromedriver is None:
        return None
    return Browser(chromium=chromium, chromedriver=chromedriver)


def missing_reason() -> str:
    missing = [
        name
        for name, candidates in (("chromium", _CHROMIUM), ("chromedriver", _CHROMEDRIVER))
        if _first(candidates) is None
    ]
    return f"{' and '.join(missing or ['a usable chromium with chromedriver'])} not found: {INSTALL_HINT}"


def can_install() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None


def install() -> Browser | None:
    """As root: apt-get the two packages. Returns what is there afterwards."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *PACKAGES], check=True, env=env)
    return find_browser()


def ensure() -> Browser | None:
    """The browser, installed first when missing and possible."""
    found = find_browser()
    if found is None and can_install():
        found = install()
    return found


def main() -> int:
    if find_browser() is None and can_install():
        print(f"installing Debian's {' and '.join(PACKAGES)} for the dashboard's browser test", flush=True)
    try:
        found = ensure()
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"could not install {' and '.join(PACKAGES)}: {exc}", file=sys.stderr)
        found = None
    if found is None:
        print(
            f"The dashboard's browser test needs Debian's chromium and chromedriver: {missing_reason()}. "
            "Without them it is skipped (and fails under CI=true).",
            file=sys.stderr,
        )
        return 0  # the test itself decides: skip on a developer's machine, fail under CI
    print(f"browser test: {found.chromium} with {found.chromedriver}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
