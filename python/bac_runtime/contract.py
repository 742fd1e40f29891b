"""The ``.bacschedule`` contract, read from the same files BAC Studio's TypeScript reader uses.

``schemas/bacschedule.schema.json`` says what each field may hold and ``schemas/bac-rules.json`` how
fields relate (steps < K, disjoint origins, step 0 always an update, block order, limits). This
module interprets both: a JSON Schema walk for the subset the schema uses (the same keywords and
message annotations as ``src/core/json-schema.ts``) and one function per rule kind (as
``src/core/contract.ts``). A rule change is an edit of those files; both languages follow.

Numbers are judged as written: :func:`loads` keeps the literal of every non-integer-looking number,
so ``99.99999999999999999`` or ``1e-400`` is no integer even though it reads as one.
Only the standard library is used.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .json_reader import (  # noqa: F401 - re-exported for the schedule reader
    MISSING,
    Issues,
    Num,
    Obj,
    _is_number,
    _shown,
    child_path,
    describe_value,
    document_order,
    is_integer_literal,
    loads,
)

_HERE = os.path.dirname(os.path.abspath(__file__))


def _schema_dir() -> str:
    """``BAC_SCHEMAS``, else ``schemas/`` next to this package (a wheel can ship them there), else the
    repository's ``schemas/`` (a checkout or ``pip install -e python/``)."""
    for d in (os.environ.get("BAC_SCHEMAS"), os.path.join(_HERE, "schemas"), os.path.join(_HERE, "..", "..", "schemas")):
        if d and os.path.isfile(os.path.join(d, "bac-rules.json")):
            return d
    raise FileNotFoundError(
        "bac_runtime: the .bacschedule contract (bac-rules.json, bacschedule.schema.json) was not found; set BAC_SCHEMAS "
        "to BAC Studio's schemas/ folder or install bac_runtime from a checkout (pip install -e python/)"
    )


#: Where the contract files were found.
SCHEMA_DIR = _schema_dir()


def _load(name: str) -> Dict[str, Any]:
    with open(os.path.join(SCHEMA_DIR, name), encoding="utf-8") as f:
        return json.load(f)


SCHEDULE_SCHEMA = _load("bacschedule.schema.json")
RULES = _load("bac-rules.json")
LIMITS: Dict[str, int] = RULES["limits"]
_MAX_SAFE = 2**53 - 1
_KNOWN = {
    "$schema", "$id", "$ref", "$comment", "title", "description", "definitions", "type", "const", "properties",
    "required", "additionalProperties", "items", "minItems", "uniqueItems", "minimum", "maximum", "minLength",
    "pattern", "format", "oneOf", "x-expected", "x-noun", "x-wrong", "x-empty",
}


def _resolve(root: Dict[str, Any], node: Dict[str, Any]) -> Dict[str, Any]:
    for k in node:
        if k not in _KNOWN:
            raise ValueError(f"unsupported schema keyword {k}")
    ref = node.get("$ref")
    if ref is None:
        return node
    m = re.fullmatch(r"([^#]*)#/definitions/([^/]+)", ref)
    target_root = root if not (m and m.group(1)) else (SCHEDULE_SCHEMA if m.group(1) == "bacschedule.schema.json" else None)
    if not m or target_root is None or m.group(2) not in target_root.get("definitions", {}):
        raise ValueError(f"unsupported $ref {ref}")
    own = {k: v for k, v in node.items() if k != "$ref"}
    return {**_resolve(target_root, target_root["definitions"][m.group(2)]), **own}


def _types(node: Dict[str, Any]) -> List[str]:
    t = node.get("type")
    return [] if t is None else list(t) if isinstance(t, list) else [t]


def _matches(t: str, v: Any) -> bool:
    if t in ("integer", "number"):
        return _is_number(v)
    return {
        "object": lambda: isinstance(v, dict),
        "array": lambda: isinstance(v, list),
        "string": lambda: isinstance(v, str),
        "boolean": lambda: isinstance(v, bool),
        "null": lambda: v is None,
    }[t]()


_TYPE_WORDS = {"boolean": "true or false", "string": "a string", "object": "an object", "array": "an array", "null": "null"}
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")


class _Walk:
    def __init__(self, root: Dict[str, Any], issues: Issues, maximum_at: Dict[str, float]) -> None:
        self.root = root
        self.c = issues
        self.maximum_at = maximum_at

    def _max(self, node: Dict[str, Any], pattern: str) -> Optional[float]:
        own = node.get("maximum")
        tighter = self.maximum_at.get(pattern)
        if tighter is None:
            return own
        return tighter if own is None else min(own, tighter)

    def _range(self, node: Dict[str, Any], pattern: str) -> str:
        lo = node.get("minimum")
        if "integer" not in _types(node):
            return "a finite number" if lo is None else f"a finite number ≥ {lo}"
        hi = self._max(node, pattern)
        lo = -_MAX_SAFE if lo is None else lo
        if hi is None or hi >= _MAX_SAFE:
            return f"an integer ≥ {lo}"
        return f"the integer {lo}" if lo == hi else f"an integer in {lo}…{hi}"

    def _expected(self, node: Dict[str, Any], pattern: str) -> str:
        x = node.get("x-expected")
        if isinstance(x, str):
            return x.replace("{range}", self._range(node, pattern))
        if "const" in node:
            return json.dumps(node["const"])
        types = _types(node)
        if "integer" in types or "number" in types:
            return self._range(node, pattern)
        return " or ".join(_TYPE_WORDS.get(t, t) for t in types)

    def check(self, raw: Dict[str, Any], v: Any, path: str, pattern: str) -> None:
        node = _resolve(self.root, raw)
        c = self.c
        types = _types(node)
        if "oneOf" in node:
            alts = [_resolve(self.root, a) for a in node["oneOf"]]
            alt = next((a for a in alts if "type" in a and _matches(a["type"], v)), None)
            if alt is None:
                c.add(path, f"{describe_value(v)}, expected {self._expected(node, pattern)}")
            else:
                extra = {"x-expected": node["x-expected"]} if "x-expected" in node else {}
                self.check({**alt, **extra}, v, path, pattern)
            return
        if "const" in node:
            const = node["const"]
            if isinstance(const, str):
                same = isinstance(v, str) and v == const
            else:
                same = _is_number(v) and v == const and not (isinstance(v, Num) and not is_integer_literal(v.literal))
            if not same:
                wrong = node.get("x-wrong")
                same_kind = isinstance(v, str) if isinstance(const, str) else _is_number(v)
                what = wrong.replace("{shown}", json.dumps(v) if isinstance(v, str) else _shown(v)) if isinstance(wrong, str) and same_kind else describe_value(v)
                c.add(path, f"{what}, expected {self._expected(node, pattern)}")
            return
        if types and not any(_matches(t, v) for t in types):
            c.add(path, f"{describe_value(v)}, expected {self._expected(node, pattern)}")
            return
        if _is_number(v):
            if not math.isfinite(v):
                c.add(path, f"{describe_value(v)}, expected {self._expected(node, pattern)}")
                return
            if "integer" in types and "number" not in types:
                if isinstance(v, Num) and not is_integer_literal(v.literal):
                    c.add(path, f"{v.literal} is not an integer, expected {self._expected(node, pattern)}")
                    return
            lo = node.get("minimum")
            hi = self._max(node, pattern)
            if hi is None and "integer" in types:
                hi = _MAX_SAFE
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                noun = f"{node['x-noun']} " if "x-noun" in node else ""
                c.add(path, f"{noun}{_shown(v)} is out of range, expected {self._range(node, pattern)}")
            return
        if isinstance(v, str):
            ok = (
                len(v) >= node.get("minLength", 0)
                and ("pattern" not in node or re.search(node["pattern"], v) is not None)
                and (node.get("format") != "date-time" or _DATE_TIME.fullmatch(v) is not None)
            )
            if not ok:
                c.add(path, f"{describe_value(v)}, expected {self._expected(node, pattern)}")
            return
        if isinstance(v, list):
            self._array(node, v, path, pattern)
        elif isinstance(v, dict):
            self._object(node, v, path, pattern)

    def _array(self, node: Dict[str, Any], v: List[Any], path: str, pattern: str) -> None:
        c = self.c
        min_items = node.get("minItems")
        if min_items is not None and len(v) < min_items:
            x = node.get("x-empty")
            c.add(path, f"is empty, expected {x}" if not v and x else
                  f"has {len(v)} item(s), expected at least {min_items} ({self._expected(node, pattern)})")
        item = _resolve(self.root, node["items"]) if "items" in node else None
        noun = item.get("x-noun", "item") if item else "item"
        seen: Optional[set] = set() if node.get("uniqueItems") else None
        for i, x in enumerate(v):
            p = f"{path}[{i}]"
            if item is not None:
                self.check(item, x, p, f"{pattern}[*]")
            if seen is not None and (x is None or isinstance(x, (str, int, float))):
                key = (type(x) is bool, x)
                if key in seen and c.is_clean(p):
                    c.add(p, f"{noun} {_shown(x)} is repeated, expected each {noun} once")
                seen.add(key)

    def _object(self, node: Dict[str, Any], v: Dict[str, Any], path: str, pattern: str) -> None:
        c = self.c
        props: Dict[str, Any] = node.get("properties", {})
        required = node.get("required", [])
        for k, sub in props.items():
            if k not in v:
                if k not in required:
                    continue
                c.add(child_path(path, k), f"is missing, expected {self._expected(node, pattern)}")
            self.check(sub, v.get(k, MISSING), child_path(path, k), child_path(pattern, k))
        if node.get("additionalProperties") is False:
            for k in v:
                if k not in props:
                    c.add(child_path(path, k), f'unknown key "{k}", expected only {", ".join(props)}')


def _segments(pattern: str) -> List[str]:
    return [s for s in pattern.replace("[*]", ".*").split(".") if s]


def _expand(doc: Any, pattern: str) -> List[Tuple[Any, str]]:
    found: List[Tuple[Any, str]] = [(doc, "")]
    for s in _segments(pattern):
        nxt: List[Tuple[Any, str]] = []
        for v, p in found:
            if s == "*":
                if isinstance(v, list):
                    nxt.extend((x, f"{p}[{i}]") for i, x in enumerate(v))
            elif isinstance(v, dict) and s in v:
                nxt.append((v[s], child_path(p, s)))
        found = nxt
    return found


def _fill(template: str, **values: Any) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: _shown(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def validate(doc: Any, issues: Issues, contract: str = "schedule") -> None:
    """Validate a parsed document (see :func:`loads`) against the schema and rule table."""
    root = SCHEDULE_SCHEMA
    section = RULES[contract]
    rules = section["rules"]
    walk = _Walk(root, issues, _bounds(root, rules, doc))
    for rule in rules:
        if rule["kind"] == "blockIds" and _many_duplicates(rule, doc, issues):
            return
    if section["stopAfter"] and isinstance(doc, dict):
        for k in section["stopAfter"]:
            walk.check(root["properties"][k], doc.get(k, MISSING), k, k)
        if not issues.clean:
            return
    walk.check(root, doc, "", "")
    issues.freeze_taint()
    for rule in rules:
        _apply(rule, doc, issues)


def _bounds(root: Dict[str, Any], rules: Sequence[Dict[str, Any]], doc: Any) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for r in rules:
        if r["kind"] != "maximumFrom":
            continue
        src = r["bound"]
        found = _expand(doc, src)
        node: Any = root
        for s in _segments(src):
            node = _resolve(root, node).get("properties", {}).get(s)
            if node is None:
                break
        if not found or node is None:
            continue
        probe = Issues(1)
        _Walk(root, probe, {}).check(node, found[0][0], src, src)
        if probe.clean:
            for p in r["at"]:
                out[p] = found[0][0] + r["offset"]
    return out


def _apply(rule: Dict[str, Any], doc: Any, c: Issues) -> None:
    kind = rule["kind"]
    message = rule.get("message", "")
    ats = [rule["at"]] if isinstance(rule["at"], str) else rule["at"]
    for pattern in ats:
        for v, path in _expand(doc, pattern):

            def arrays(fields: Sequence[str]) -> Optional[List[List[Any]]]:
                if all(isinstance(v, dict) and isinstance(v.get(f), list) and c.is_clean(child_path(path, f)) for f in fields):
                    return [v[f] for f in fields]
                return None

            if kind == "maximumFrom":
                continue
            if kind == "increasing":
                if not isinstance(v, list):
                    continue
                prev = -math.inf
                for j, x in enumerate(v):
                    at = f"{path}[{j}]"
                    if not _is_number(x) or not c.is_clean(at):
                        continue
                    if x < prev:
                        c.add(at, _fill(message, value=x, previous=prev))
                    prev = max(prev, x)
            elif kind in ("disjoint", "unionContains"):
                sets = arrays(rule["fields"])
                if sets is None:
                    continue
                owner: Dict[Any, str] = {}
                for f, lst in zip(rule["fields"], sets):
                    for j, s in enumerate(lst):
                        if s not in owner:
                            owner[s] = f
                        elif kind == "disjoint":
                            c.add(f"{child_path(path, f)}[{j}]", _fill(message, value=s, other=owner[s]))
                if kind == "unionContains" and rule["value"] not in owner:
                    c.add(path, message)
            elif kind == "excludesValue":
                sets = arrays([rule["field"]])
                for j, s in enumerate(sets[0] if sets else []):
                    if s == rule["value"]:
                        c.add(f"{child_path(path, rule['field'])}[{j}]", _fill(message, value=s))
            elif kind == "disjointFrom":
                sets = arrays([rule["field"], *rule["from"]])
                if sets is None:
                    continue
                owner = {}
                for f, lst in zip(rule["from"], sets[1:]):
                    for s in lst:
                        owner.setdefault(s, f)
                for j, s in enumerate(sets[0]):
                    if s in owner and s not in rule.get("except", []):
                        c.add(f"{child_path(path, rule['field'])}[{j}]", _fill(message, value=s, other=owner[s]))
            elif kind == "blockIds":
                _check_block_ids(c, v, path, rule["idField"])
            else:
                raise ValueError(f"bac-rules.json: rule kind {kind} is not implemented here (rule {rule['id']})")


_BLOCK_ID = re.compile(r"(0|[1-9][0-9]{0,5})\.(sa|ca|ffn)")


def _many_duplicates(rule: Dict[str, Any], doc: Any, c: Issues) -> bool:
    found = _expand(doc, rule["at"])
    if not found or not isinstance(found[0][0], list):
        return False
    blocks, path = found[0]
    seen: set = set()
    count = 0
    first: Optional[Tuple[str, str]] = None
    for i, b in enumerate(blocks):
        bid = b.get(rule["idField"]) if isinstance(b, dict) else None
        if not isinstance(bid, str):
            continue
        if bid in seen:
            count += 1
            first = first or (bid, child_path(f"{path}[{i}]", rule["idField"]))
        else:
            seen.add(bid)
    if count <= c.max or first is None:
        return False
    c.add(path, _fill(RULES["blockIds"]["tooManyDuplicates"], count=count, total=len(blocks), id=first[0], at=first[1]))
    return True


def _check_block_ids(c: Issues, blocks: Any, path: str, id_key: str) -> None:
    if not isinstance(blocks, list) or not blocks:
        return
    t = RULES["blockIds"]
    seen: Dict[str, int] = {}
    prev: Optional[Tuple[str, int]] = None
    max_layer = -1
    complete = True
    for i, b in enumerate(blocks):
        id_path = child_path(f"{path}[{i}]", id_key)
        bid = b.get(id_key) if isinstance(b, dict) else None
        m = _BLOCK_ID.fullmatch(bid) if isinstance(bid, str) and c.is_clean(id_path) else None
        if not m:
            complete = False
            continue
        layer = int(m.group(1))
        rank = layer * 3 + t["kinds"].index(m.group(2))
        if bid in seen:
            c.add(id_path, _fill(t["duplicate"], id=bid, first=f"{path}[{seen[bid]}]"))
            continue
        seen[bid] = i
        if prev is not None and rank < prev[1]:
            c.add(id_path, _fill(t["order"], id=bid, previous=prev[0]))
        if prev is None or rank > prev[1]:
            prev = (bid, rank)
        max_layer = max(max_layer, layer)
    if not complete or max_layer < 0:
        return
    missing = 3 * (max_layer + 1) - len(seen)
    layer = 0
    while layer <= max_layer and missing > 0 and not c.full:
        for kind in t["kinds"]:
            bid = f"{layer}.{kind}"
            if bid not in seen:
                c.add(path, _fill(t["missing"], id=bid, maxLayer=max_layer))
                missing -= 1
        layer += 1
    # Up to a million layers can be claimed: count the rest instead of listing them.
    c.dropped += missing
