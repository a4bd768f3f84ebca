"""Markdown from outside ``docs/`` on the site, kept in one place: a MkDocs hook.

MkDocs serves only files under ``docs/``; the README, the benchmarks' README
and the changelog live elsewhere and stay the single source:

* ``<!-- include: README.md#two-commands -->`` in a page is replaced by that
  section of the file (path relative to the repository root, section by its
  heading's anchor, without the heading itself);
* :data:`PAGES` are generated pages copied whole from a file outside ``docs/``;
* a relative link in any of them that leaves ``docs/`` (``../CONTRIBUTING.md``)
  points to the file in the repository (``repo_url``), one inside ``docs/``
  is made relative to the page that shows it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from markdown.extensions.toc import slugify
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: Generated page (under docs/) -> the file it is copied from (relative to the root).
PAGES = {"benchmarks.md": "benchmarks/README.md", "changelog.md": "CHANGELOG.md"}

INCLUDE = re.compile(r"<!--\s*include:\s*(\S+?)#([\w-]+)\s*-->")
LINK = re.compile(r"(\]\()([^)\s]+)(\))")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def _lines_outside_fences(text: str) -> list[tuple[str, bool]]:
    """Each line of *text* with whether it lies outside a fenced code block."""
    out: list[tuple[str, bool]] = []
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            out.append((line, False))
        else:
            out.append((line, not fenced))
    return out


def section(text: str, anchor: str) -> str:
    """The body of the section of *text* whose heading has *anchor*, up to the next one."""
    lines = _lines_outside_fences(text)
    body: list[str] | None = None
    level = 0
    for line, outside in lines:
        heading = HEADING.match(line) if outside else None
        if body is None:
            if heading and slugify(heading.group(2), "-") == anchor:
                body, level = [], len(heading.group(1))
        elif heading and len(heading.group(1)) <= level:
            break
        else:
            body.append(line)
    if body is None:
        raise KeyError(anchor)
    return "\n".join(body).strip("\n") + "\n"


def rewrite_links(text: str, source: Path, page: str, repo_url: str | None) -> str:
    """Relative links of *text*, written in *source*, made right for docs page *page*."""
    page_dir = posixpath.dirname(page)

    def replace(match: re.Match[str]) -> str:
        target = match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
            return match.group(0)
        path, _, fragment = target.partition("#")
        resolved = (source.parent / path).resolve()
        if resolved.is_relative_to(DOCS):
            new = posixpath.relpath(resolved.relative_to(DOCS).as_posix(), page_dir or ".")
        elif resolved.is_relative_to(ROOT) and repo_url:
            kind = "tree" if resolved.is_dir() else "blob"
            new = f"{repo_url.rstrip('/')}/{kind}/main/{resolved.relative_to(ROOT).as_posix()}"
        else:
            return match.group(0)
        return f"{match.group(1)}{new}{'#' + fragment if fragment else ''}{match.group(3)}"

    return "\n".join(
        LINK.sub(replace, line) if outside else line
        for line, outside in _lines_outside_fences(text)
    ) + ("\n" if text.endswith("\n") else "")


def _include(markdown: str, page: str, repo_url: str | None) -> str:
    def replace(match: re.Match[str]) -> str:
        source = ROOT / match.group(1)
        try:
            body = section(source.read_text(encoding="utf-8"), match.group(2))
        except (OSError, KeyError) as exc:
            raise PluginError(f"{page}: cannot include {match.group(0)}: {exc!r}") from exc
        return rewrite_links(body, source, page, repo_url)

    return INCLUDE.sub(replace, markdown)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """MkDocs hook: add the pages copied from outside docs/."""
    for page, origin in PAGES.items():
        source = ROOT / origin
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise PluginError(f"cannot generate {page} from {origin}: {exc}") from exc
        content = rewrite_links(text, source, page, config.repo_url)
        files.append(File.generated(config, page, content=content))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, **kwargs: Any) -> str:
    """MkDocs hook: fill in the includes and fix the links that leave docs/."""
    if page.file.src_uri in PAGES:
        return markdown
    markdown = _include(markdown, page.file.src_uri, config.repo_url)
    return rewrite_links(markdown, DOCS / page.file.src_uri, page.file.src_uri, config.repo_url)
