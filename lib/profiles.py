"""Profiles (the experiment sizes), the chapters of ``_toc.yml`` and their budgets.

A light module (no numpy, no torch), so the command line can answer ``--help`` and usage errors
at once (``lib.run``). This is their one home: import them from here.
"""

import math
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEDULER_ENV = "BOOK_SCHEDULER"  # a Dask scheduler for every sweep (lib.cluster; lib.run --scheduler)


@dataclass(frozen=True)
class Profile:
    """One experiment size: its name, what it is for and its per-chapter budget on 2 cores."""

    name: str
    purpose: str
    chapter_budget_s: float


PROFILES = {
    "smoke": Profile("smoke", "CI: every code path runs at tiny sizes", 90),
    "book": Profile("book", "the rendered book: scaled down, must still show each claim", 15 * 60),
    "thesis": Profile("thesis", "the thesis's own sizes (30 runs, full epochs, full MNIST)", math.inf),
}
DEFAULT_PROFILE = "book"
LONGER_BUDGET = {("ch09_ddn", "book"): 30 * 60}  # book/design.md: chapter 9 may take 30 min at book


def toc_chapters():
    """Chapter names (``chNN_...``) in the order ``_toc.yml`` lists them."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [
        entry["file"]
        for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}])
        for entry in part["chapters"]
    ]
    return [Path(f).name for f in files if Path(f).name.startswith("ch")]


def chapter_title(chapter):
    """The first heading of ``book/<chapter>.md`` ("Chapter 8: Split Autoencoders")."""
    path = ROOT / "book" / f"{chapter}.md"
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return chapter


def chapter_budget(chapter, profile):
    """Seconds a chapter may take on 2 cores at ``profile`` (book/design.md, "Profiles")."""
    profile = resolve_profile(profile)
    return LONGER_BUDGET.get((chapter, profile), PROFILES[profile].chapter_budget_s)


def resolve_profile(profile=None):
    """Return a valid profile name: ``profile``, else ``$BOOK_PROFILE``, else ``"book"``."""
    name = os.environ.get("BOOK_PROFILE") or DEFAULT_PROFILE if profile is None else profile
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid profiles are {sorted(PROFILES)}")
    return name
