"""What the browser tests share: where things are, the table of contents, the request guard."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def toc_docs() -> list[str]:
    """Every document of ``_toc.yml`` in reading order, the root first (``book/intro``, ...)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    docs = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                docs.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return docs


def chapter_notebooks() -> list[Path]:
    """The chapter notebooks of the table of contents, in reading order."""
    return [ROOT / f"{doc}.ipynb" for doc in toc_docs() if (ROOT / f"{doc}.ipynb").exists()]


class ForeignRequests:
    """Blocks every request that leaves ``allowed`` (scheme://host:port) and remembers it."""

    def __init__(self, allowed: str):
        self.allowed = allowed
        self.seen: list[str] = []

    def handle(self, route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == self.allowed:
            route.continue_()
        else:
            self.seen.append(url)
            route.abort("blockedbyclient")

    def take(self) -> list[str]:
        """Return the blocked requests seen so far and forget them."""
        seen, self.seen = self.seen, []
        return seen
