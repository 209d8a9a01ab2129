"""Subjects and bodies organisers write: Django template language, checked and rendered safely.

Only text, `{{ variables }}` (with filters), `{% if %}` and `{% for %}` are accepted, rendered by
an engine with no template loaders, against plain values rather than model instances: a rule
can show the event's title, never reach its organizer's password hash or another template.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import Node, TextNode, VariableNode
from django.template.defaulttags import ForNode, IfNode

ALLOWED_NODES = (TextNode, VariableNode, IfNode, ForNode)
PLACEHOLDERS = (
    "event.title, event.venue, event.description, event.start_date, event.end_date, user.username"
)


class TemplateRefused(ValueError):
    """A subject or body that is not an acceptable template; the message says why."""


@cache
def _engine() -> Engine:
    return Engine(loaders=[], debug=False)


def compile_template(source: str) -> Template:
    """The compiled template, or TemplateRefused naming the syntax error or the tag refused."""
    try:
        template = _engine().from_string(source)
    except TemplateSyntaxError as error:
        raise TemplateRefused(f"Template syntax error: {error}") from None
    for node in template.nodelist.get_nodes_by_type(Node):
        if not isinstance(node, ALLOWED_NODES):
            name = getattr(node, "token", None)
            tag = name.contents.split()[0] if name is not None else type(node).__name__
            raise TemplateRefused(f"Tag not allowed: {tag}. Use {{{{ }}}}, if and for only.")
    return template


def render(source: str, context: dict[str, Any], *, autoescape: bool) -> str:
    return compile_template(source).render(Context(context, autoescape=autoescape))
