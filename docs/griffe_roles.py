"""A griffe extension for the API reference: repokit's Sphinx-style docstrings as Markdown.

repokit's docstrings name objects the Sphinx way (``:class:`Database```,
``:meth:`~MongoBackend.from_client```) and document constants with ``#:``
comments above them. mkdocstrings reads Markdown and docstrings only, so this
extension (``extensions:`` of the python handler in ``mkdocs.yml``):

* turns each role into inline code that links to the object's entry when the
  reference renders it (an optional cross-reference: no warning when it does
  not, e.g. for PyMongo's classes);
* makes the ``#:`` comment lines right above an attribute its docstring.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const|type):`(~?)([^`]+)`")


def _identifier(obj: griffe.Object, target: str) -> str:
    """The full path *target* names, seen from *obj* (best effort)."""
    target = target.removesuffix("()")
    if target.startswith("."):
        package = obj.package.path if obj.is_module else obj.module.path
        return f"{package}{target}" if obj.is_package else f"{package.rpartition('.')[0]}{target}"
    head, dot, rest = target.partition(".")
    try:
        path = obj.resolve(head) + dot + rest
    except (griffe.NameResolutionError, ValueError, AttributeError, KeyError):
        return target
    try:  # where it is defined: the reference registers that path for every entry
        return obj.modules_collection[path].canonical_path  # type: ignore[no-any-return]
    except Exception:  # not loaded, or an alias that does not resolve
        return path


def _doc_comment(obj: griffe.Object) -> str | None:
    """The ``#:`` comment lines right above *obj*'s first line, as text."""
    try:
        lines = obj.module.lines
    except Exception:
        return None
    if not obj.lineno:
        return None
    comment: list[str] = []
    index = obj.lineno - 2
    while index >= 0 and lines[index].strip().startswith("#:"):
        comment.insert(0, lines[index].strip()[2:].strip())
        index -= 1
    return " ".join(comment) or None


def _render(obj: griffe.Object, match: re.Match[str]) -> str:
    short, target = match.group(1) == "~", match.group(2)
    shown = target.rpartition(".")[2] if short else target.lstrip(".")
    identifier = html.escape(_identifier(obj, target), quote=True)
    code = f"<code>{html.escape(shown)}</code>"
    return f'<autoref identifier="{identifier}" optional>{code}</autoref>'


class SphinxRoles(griffe.Extension):
    """Rewrite ``:role:`target``` in every docstring once the package is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg, set())

    def _walk(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.is_attribute and obj.docstring is None and (comment := _doc_comment(obj)):
            parser = obj.module.docstring.parser if obj.module.docstring else None
            obj.docstring = griffe.Docstring(
                comment, lineno=obj.lineno, endlineno=obj.lineno, parent=obj, parser=parser
            )
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(lambda m: _render(obj, m), obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, seen)  # type: ignore[arg-type]
