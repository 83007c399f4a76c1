"""Debian's headless Chromium, driven by Playwright, for looking at reports the way a person does.

Playwright's own browser download cannot reach this closed network, so it drives the system's
`chromium` (installed by `make setup`). Without the background-networking flags Chromium keeps
calling Google, which this network refuses.
"""

import contextlib
import pathlib
import shutil

from playwright.sync_api import sync_playwright

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "Debian's chromium is needed for the HTML report test: make setup installs it (as root)"
    return path


@contextlib.contextmanager
def page(path: pathlib.Path, width: int = 1280, height: int = 1600):
    """A rendered report page; every request it makes (there should be none) is recorded in page.requests."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=FLAGS)
        try:
            tab = browser.new_page(viewport={"width": width, "height": height})
            tab.requests = []
            tab.on("request", lambda request: tab.requests.append(request.url))
            tab.goto(path.as_uri())
            yield tab
        finally:
            browser.close()


def visible_hosts(tab) -> list[str]:
    """Host names of the host rows a person can see now."""
    return tab.eval_on_selector_all("#hosts tr.host", "rows => rows.filter(r => !r.hidden).map(r => r.cells[0].innerText)")


def text_nodes(tab) -> list[str]:
    """The page's visible text, one string per text node (script and style skipped), in document order."""
    return tab.evaluate("""() => {
        const out = [], walker = document.createTreeWalker(document, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            const tag = n.parentElement && n.parentElement.tagName;
            const text = n.textContent.split(/\\s+/).join(' ').trim();
            if (text && tag !== 'SCRIPT' && tag !== 'STYLE') out.push(text);
        }
        return out;
    }""")
