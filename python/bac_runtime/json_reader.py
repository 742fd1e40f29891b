"""Reading untrusted JSON for the contract checks: numbers kept as written, duplicate keys
remembered, issues collected with their paths (as ``src/core/json-validate.ts`` in TypeScript).

Only the standard library is used.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Callable, List, Tuple

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_INT_LITERAL = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?")


class Missing:
    """An absent key (as opposed to JSON ``null``)."""

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "<missing>"


MISSING: Any = Missing()


class Num(float):
    """A JSON number with a fraction or exponent, remembering how it was written."""

    literal: str

    def __new__(cls, literal: str) -> "Num":
        n = super().__new__(cls, float(literal))
        n.literal = literal
        return n


def is_integer_literal(text: str) -> bool:
    """Whether a JSON number literal denotes an integer exactly (``6e0`` yes, ``3.0000000000000001`` no)."""
    m = _INT_LITERAL.fullmatch(text)
    if not m:
        return False
    frac = (m.group(2) or "").rstrip("0")
    digits = (m.group(1) + frac).lstrip("0")
    if not digits:
        return True
    exponent = int(m.group(3) or "0") - len(frac)
    if exponent >= 0:
        return True
    return frac == "" and len(digits) - len(digits.rstrip("0")) >= -exponent


def _parse_int(s: str) -> Any:
    # TypeScript reads numbers as doubles: a literal too long for one is not finite there either.
    return int(s) if len(s) < 300 else Num(s)


class Obj(dict):
    """A JSON object that remembers which keys occurred more than once (the last one wins)."""

    dups: List[str]


def _pairs(pairs: List[Tuple[str, Any]]) -> Obj:
    o = Obj()
    o.dups = []
    for k, v in pairs:
        if k in o:
            o.dups.append(k)
        o[k] = v
    return o


def _reject_constant(name: str) -> Any:
    raise ValueError(f"unexpected {name}, expected a JSON value (NaN and Infinity are not JSON)")


def loads(text: str) -> Any:
    """``json.loads`` with objects as :class:`Obj`, fractional/exponent numbers as :class:`Num`,
    NaN/Infinity refused. Raises ``json.JSONDecodeError``/``ValueError``/``RecursionError``."""
    return json.loads(
        text, object_pairs_hook=_pairs, parse_float=Num, parse_int=_parse_int, parse_constant=_reject_constant
    )


def child_path(path: str, key: Any) -> str:
    """``a.b``, ``a[3]``, ``a["odd key"]`` -- the spelling of the TypeScript reader."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENT.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def parent_path(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return "" if cut < 0 else path[:cut]


class Issues:
    """Collects ``(path, message)`` issues, keeps the first ``max``, counts the rest, and remembers which
    paths (with their ancestors) had one so later rules skip bad values."""

    def __init__(self, max_issues: int) -> None:
        self.max = max_issues
        self.issues: List[Tuple[str, str]] = []
        self.dropped = 0
        self._tainted: set = set()
        self._tainting = True

    def add(self, path: str, message: str) -> None:
        if self._tainting:
            p = path
            while p not in self._tainted:
                self._tainted.add(p)
                if p == "":
                    break
                p = parent_path(p)
        if len(self.issues) >= self.max:
            self.dropped += 1
        else:
            self.issues.append((path, message))

    def is_clean(self, path: str) -> bool:
        return path not in self._tainted

    def freeze_taint(self) -> None:
        self._tainting = False

    @property
    def clean(self) -> bool:
        return not self.issues and not self.dropped

    @property
    def full(self) -> bool:
        return len(self.issues) >= self.max


def describe_value(v: Any) -> str:
    """The "what is wrong" clause for an untrusted value (``"100" is a string``, ``is null``, ...)."""
    if v is MISSING:
        return "is missing"
    if v is None:
        return "is null"
    if isinstance(v, list):
        return "is an array"
    if isinstance(v, str):
        shown = json.dumps(v[:40], ensure_ascii=False) + "…" if len(v) > 40 else json.dumps(v, ensure_ascii=False)
        return f"{shown} is a string"
    if isinstance(v, bool):
        return f"{'true' if v else 'false'} is a boolean"
    if isinstance(v, (int, float)):
        return f"{_shown(v)} is a number" if math.isfinite(v) else f"{_shown(v)} is not a finite number"
    if isinstance(v, dict):
        return "is an object"
    return f"is a {type(v).__name__}"


def _shown(v: Any) -> str:
    if isinstance(v, float) and math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if isinstance(v, Num):
        return v.literal
    return str(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def document_order(doc: Any) -> Callable[[str], List[int]]:
    """Sort key of an issue path in document order (as ``documentOrder`` in TypeScript)."""
    token = re.compile(r'(?:^|\.)([A-Za-z_$][A-Za-z0-9_$]*)|\[([0-9]+)\]|\[("(?:[^"\\]|\\.)*")\]')

    def key(path: str) -> List[int]:
        out: List[int] = []
        v = doc
        for m in token.finditer(path):
            if m.group(2) is not None:
                i = int(m.group(2))
                out.append(i)
                v = v[i] if isinstance(v, list) and i < len(v) else None
            else:
                k = m.group(1) if m.group(1) is not None else json.loads(m.group(3))
                if isinstance(v, dict):
                    keys = list(v)
                    out.append(keys.index(k) if k in keys else len(keys))
                    v = v.get(k)
                else:
                    out.append(0)
                    v = None
        return out

    return key
