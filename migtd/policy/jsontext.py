"""Strict JSON reading with the facts the policy engines need from the raw text.

Python's ``json`` differs from serde_json in ways that matter here: it accepts
``NaN``/``Infinity``, silently keeps the last of two duplicate keys and cannot
tell ``"equal"`` from ``"equ\\u0061l"``. Upstream rejects all three in the
places where it deserialises into a struct or borrows a ``&str``. This module
reads JSON so those facts stay visible (:class:`JsonObject.duplicates`,
:class:`EscapedStr`) and locates the exact byte range of a top-level value,
which policy v2 signs without canonicalisation.

Every entry point first bounds the nesting depth with
:func:`migtd.inputs.check_json_depth` (serde_json's limit of 128 levels), so a
100 000-level array is a ``ValueError`` like any other malformed document
(InvalidPolicy for a policy) instead of a ``RecursionError``.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
from collections.abc import Callable
from typing import Any

from migtd.inputs import MAX_JSON_DEPTH, InputError, check_json_depth

#: json's string scanner (the C one when built, as json.decoder chooses): public in json.decoder at
#: runtime, but typeshed does not declare it there, hence the one ignore.
_scanstring: Callable[..., tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


class JsonObject(dict):
    """A JSON object that remembers which keys appeared more than once."""

    duplicates: frozenset[str] = frozenset()


class EscapedStr(str):
    """A JSON string value that was written with at least one escape sequence."""

    __slots__ = ()


def _pairs(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dups: set[str] = set()
        for key, _ in pairs:
            (dups if key in seen else seen).add(key)
        obj.duplicates = frozenset(dups)
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _marking_string(s: str, end: int, strict: bool = True) -> tuple[str, int]:
    value, new_end = _scanstring(s, end, strict)
    if "\\" in s[end:new_end]:
        return EscapedStr(value), new_end
    return value, new_end


_FAST = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_no_constant)
_MARKING = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_no_constant)
_MARKING.parse_string = _marking_string  # type: ignore[attr-defined]
_MARKING.scan_once = json.scanner.py_make_scanner(_MARKING)  # type: ignore[attr-defined]


class TooDeep(ValueError):
    """The document nests arrays and objects deeper than :data:`MAX_JSON_DEPTH` levels."""


def check_depth(text: str) -> None:
    """Raise :class:`TooDeep` (a ``ValueError``) when ``text`` nests deeper than serde_json allows."""
    try:
        check_json_depth(text, "JSON", max_depth=MAX_JSON_DEPTH)
    except InputError as exc:
        raise TooDeep(exc.message.removeprefix("JSON: ")) from None


def loads(text: str) -> Any:
    """Parse ``text``; raises ``ValueError`` (incl. JSONDecodeError) on bad JSON.

    Escaped string values come back as :class:`EscapedStr`; the slower pure
    Python scanner that can see escapes is used only when the text contains
    a backslash at all. Nesting deeper than serde_json's 128 levels is a
    :class:`TooDeep` error; an integer too long for Python's ``int`` is a
    ``ValueError`` too; neither can surface as another exception type.
    """
    check_depth(text)
    decoder = _MARKING if "\\" in text else _FAST
    try:
        return decoder.decode(text)
    except RecursionError:  # unreachable after check_depth; kept so no caller ever sees one
        raise TooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None


def describe_error(exc: Exception) -> str:
    """One line for a JSON syntax error, with line and column when known."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    return f"invalid JSON: {exc}"


_WS = " \t\n\r"


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def top_level_spans(text: str) -> dict[str, tuple[int, int]]:
    """Character spans of each member value of the top-level object.

    ``text[start:end]`` is the value exactly as written (no surrounding
    whitespace). Raises ``ValueError`` when ``text`` is not one JSON object,
    or when a key repeats (serde rejects duplicate struct fields).
    """
    check_depth(text)
    raw = json.JSONDecoder(parse_constant=_no_constant).raw_decode
    pos = _skip_ws(text, 0)
    if pos >= len(text) or text[pos] != "{":
        raise ValueError("the document is not a JSON object")
    pos = _skip_ws(text, pos + 1)
    spans: dict[str, tuple[int, int]] = {}
    if pos < len(text) and text[pos] == "}":
        pos += 1
    else:
        while True:
            if pos >= len(text) or text[pos] != '"':
                raise ValueError(f"expected a member name at character {pos}")
            key, pos = _scanstring(text, pos + 1)
            pos = _skip_ws(text, pos)
            if pos >= len(text) or text[pos] != ":":
                raise ValueError(f"expected ':' at character {pos}")
            pos = _skip_ws(text, pos + 1)
            _, end = raw(text, pos)
            if key in spans:
                raise ValueError(f'duplicate member "{key}"')
            spans[key] = (pos, end)
            pos = _skip_ws(text, end)
            if pos < len(text) and text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
                continue
            if pos < len(text) and text[pos] == "}":
                pos += 1
                break
            raise ValueError(f"expected ',' or '}}' at character {pos}")
    if _skip_ws(text, pos) != len(text):
        raise ValueError(f"trailing data at character {pos}")
    return spans


def compact(value: Any) -> str:
    """serde_json's compact form for order-preserving, float-free JSON values."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
