"""GeoReport v2's XML answers read into the same shapes as its JSON ones, safely.

The parser resolves no entity, loads no DTD and reaches no network (as the Lagan
connector's), so a DOCTYPE with an external entity in an answer reads nothing. The
result has the JSON format's shape: ``<services><service>…</service></services>`` is a
list of dicts; leaves are strings (or None when empty), since XML has no types; the
caller reads booleans and numbers with ``flag`` and ``number``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LISTS", "XmlError", "flag", "number", "parse_xml"]

LISTS = frozenset({
    "services", "service_requests", "service_request_updates", "service_requests_updates",
    "errors", "attributes", "values", "requests",
})
"""Elements that hold a list of like children (the JSON format's arrays)."""


class XmlError(ValueError):
    """The answer is not well-formed XML (or tries to use a DTD)."""


def parse_xml(data: bytes) -> Any:
    """The document as lists, dicts and strings; ``XmlError`` when it cannot be read."""
    from lxml import etree  # the open311 extra; only the XML format needs it

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"not well-formed XML ({exc.msg})") from None
    if root.getroottree().docinfo.internalDTD is not None or _has_entities(root):
        raise XmlError("the XML carries a DTD or entity references, which are not read")
    return _value(root)


def _has_entities(root: Any) -> bool:
    from lxml import etree

    return any(isinstance(node, etree._Entity) for node in root.iter())


def _value(element: Any) -> Any:
    children = [child for child in element if isinstance(child.tag, str)]
    tag = _local(element.tag)
    if tag in LISTS:
        return [_value(child) for child in children]
    if not children:
        text = (element.text or "").strip()
        return text or None
    return {_local(child.tag): _value(child) for child in children}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def flag(value: Any) -> bool:
    """A boolean as JSON (true) or XML ("true") gives it."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
