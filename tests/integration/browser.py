"""Headless Chromium (Debian's `chromium`) for looking at reports the way a person does."""

import html.parser
import pathlib
import shutil
import subprocess

# Without the background-networking flags Chromium keeps calling Google, which this closed network refuses.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "Debian's chromium is needed for the HTML report test: make setup installs it (as root)"
    return path


def _run(*args, profile: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          check=True, timeout=120)


def screenshot(page: pathlib.Path, out: pathlib.Path, width: int, height: int, profile: pathlib.Path) -> None:
    _run(f"--window-size={width},{height}", f"--screenshot={out}", page.as_uri(), profile=profile)


class _Text(html.parser.HTMLParser):
    """Visible text of a rendered DOM, one string per text node (script and style skipped)."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(" ".join(data.split()))


def rendered_text(page: pathlib.Path, profile: pathlib.Path) -> list[str]:
    """The page's text after Chromium has parsed and laid it out (--dump-dom)."""
    parser = _Text()
    parser.feed(_run("--dump-dom", page.as_uri(), profile=profile).stdout)
    return parser.parts
