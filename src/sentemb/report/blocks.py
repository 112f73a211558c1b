"""The report as a list of blocks, rendered twice: markdown and self-contained HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Text:
    """A paragraph; `backticks` mark code."""

    text: str


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    align: list[str] | None = None  # "l" or "r" per column (default: first left, the rest right)
    caption: str | None = None

    def alignments(self) -> list[str]:
        return self.align or ["l"] + ["r"] * (len(self.header) - 1)


@dataclass
class Image:
    """A PNG file (a stage's own chart, or one drawn for the report)."""

    path: Path
    alt: str


@dataclass
class Section:
    """A titled group of blocks; ``anchor`` is its id in the HTML page."""

    title: str
    anchor: str
    blocks: list = field(default_factory=list)
