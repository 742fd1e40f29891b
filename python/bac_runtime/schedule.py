"""Reading, validating and writing ``.bacschedule`` files (format version 1).

This is a port of BAC Studio's TypeScript reader (``src/core/schedule-format.ts`` with the field
checks of ``src/core/json-validate.ts``): the same invariants, the same JSON paths and the same
"what is wrong, what is expected" messages, so a file the editor accepts is accepted here and a
file it rejects is rejected here with the same explanation. ``python/tests/test_runtime.py`` runs
both readers on the same malformed files and compares their issue lists.

Only the standard library is used (no torch), so this module can be imported anywhere.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

#: Value of the ``format`` field of every ``.bacschedule``.
SCHEDULE_FORMAT = "bacschedule"
#: The only ``.bacschedule`` version this runtime reads and writes.
SCHEDULE_VERSION = 1
#: Largest K accepted (as the TypeScript reader): it bounds the work of validation.
MAX_STEPS = 100_000
#: At most this many issues are listed per file; a final issue says how many more were cut.
MAX_ISSUES = 50
#: Residual branches of a pre-norm decoder layer, in the order the residual stream visits them.
BLOCK_KINDS: Tuple[str, str, str] = ("sa", "ca", "ffn")

_BLOCK_ID = re.compile(r"(0|[1-9][0-9]{0,5})\.(sa|ca|ffn)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ROOT_KEYS = ("format", "version", "model", "sampler", "solver", "baseCost", "summary", "blocks")
_BLOCK_KEYS = ("id", "acs", "bua", "manual", "manualOff", "flops", "timeUs")
_ORIGIN_KEYS = ("acs", "bua", "manual")
_MAX_SAFE_INTEGER = 2**53 - 1
_MAX_JSON_DEPTH = 64


class _Missing:
    """JavaScript's ``undefined``: a key that is absent (as opposed to JSON ``null``)."""

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "<missing>"


_MISSING: Any = _Missing()


# ---------------------------------------------------------------------------------------------
# In-memory schedule


@dataclass(frozen=True)
class FileRef:
    """A file another file depends on: POSIX ``path`` relative to the referencing file, ``sha256``."""

    path: str
    sha256: str


@dataclass(frozen=True)
class SamplerInfo:
    """The sampler a schedule was solved for: ``type`` (diffusers naming) and ``steps`` = K."""

    type: str
    steps: int


@dataclass(frozen=True)
class SolverParams:
    """How the schedule was produced: ACS budget M, BUA top-n, forceLast, source profile (or None)."""

    budget: int
    top_n: int
    force_last: bool
    profile: Optional[FileRef]


@dataclass(frozen=True)
class Cost:
    """Cost of one call: FLOPs at batch 1 (multiply-add = 2) and measured microseconds (0 = unmeasured)."""

    flops: int
    time_us: float


@dataclass(frozen=True)
class ScheduleBlock:
    """One block's update steps by origin. Invariants (checked by :func:`validate_schedule`): each
    list strictly increasing within 0 … K−1, ``acs``/``bua``/``manual`` pairwise disjoint and
    together holding step 0, ``manual_off`` disjoint from them and without 0."""

    id: str
    acs: Tuple[int, ...]
    bua: Tuple[int, ...]
    manual: Tuple[int, ...]
    manual_off: Tuple[int, ...]
    cost: Cost = Cost(0, 0.0)

    @property
    def layer(self) -> int:
        """Decoder layer index (0 = most upstream)."""
        return int(self.id.split(".")[0])

    @property
    def kind(self) -> str:
        """``sa``, ``ca`` or ``ffn``."""
        return self.id.split(".")[1]

    @property
    def updates(self) -> Tuple[int, ...]:
        """C(b): the steps at which the block is recomputed (acs ∪ bua ∪ manual), ascending."""
        return tuple(sorted((*self.acs, *self.bua, *self.manual)))


@dataclass(frozen=True)
class Schedule:
    """A ``.bacschedule`` in memory (without its derived ``summary``, see :meth:`summarize`).

    ``blocks`` are in model order: layer ascending, then sa, ca, ffn. ``source`` is the file it was
    read from (None when built in code); it only serves error messages.
    """

    model: FileRef
    sampler: SamplerInfo
    solver: SolverParams
    base_cost: Cost
    blocks: Tuple[ScheduleBlock, ...]
    source: Optional[str] = field(default=None, compare=False)

    @property
    def K(self) -> int:  # noqa: N802 - the paper's name
        """Denoiser calls per sampling run (``sampler.steps``)."""
        return self.sampler.steps

    @property
    def n_layers(self) -> int:
        """Number of decoder layers the schedule covers."""
        return 1 + max(b.layer for b in self.blocks) if self.blocks else 0

    def block(self, block_id: str) -> ScheduleBlock:
        """The block with id ``<layer>.<kind>``; KeyError when absent."""
        for b in self.blocks:
            if b.id == block_id:
                return b
        raise KeyError(block_id)

    def summarize(self) -> Dict[str, Any]:
        """Derived numbers, as the TypeScript ``summarizeSchedule``: ``updates`` (Σ|C(b)|),
        ``fullUpdates`` (K·blocks), ``speedupFlops`` and ``speedupTime`` (None when no time was
        measured) from the cost model full/cached of METHOD.md."""
        K = self.K
        ups = [len(b.updates) for b in self.blocks]

        def speedup(measure) -> float:
            per_call = measure(self.base_cost)
            cached = K * measure(self.base_cost)
            for b, n in zip(self.blocks, ups):
                per_call += measure(b.cost)
                cached += n * measure(b.cost)
            return K * per_call / cached if cached > 0 else 1.0

        timed = self.base_cost.time_us > 0 or any(b.cost.time_us > 0 for b in self.blocks)
        return {
            "updates": sum(ups),
            "fullUpdates": K * len(self.blocks),
            "speedupFlops": speedup(lambda c: c.flops),
            "speedupTime": speedup(lambda c: c.time_us) if timed else None,
        }


# ---------------------------------------------------------------------------------------------
# Issues


@dataclass(frozen=True)
class ScheduleIssue:
    """One thing wrong with a file: JSON ``path`` (``blocks[3].acs[2]``, ``''`` = whole file), a
    ``message`` saying what is wrong then what is expected, and ``line``/``column`` when known."""

    path: str
    message: str
    line: Optional[int] = None
    column: Optional[int] = None

    def format(self, file: str) -> str:
        """``file: path: message`` (``file: message`` for the whole file), as BAC Studio prints it."""
        return f"{file}: {self.path}: {self.message}" if self.path else f"{file}: {self.message}"


class ScheduleError(ValueError):
    """A ``.bacschedule`` is invalid. ``issues`` lists every problem found (at most
    :data:`MAX_ISSUES` plus a closing "more" note); ``str()`` prints one per line as
    ``file: json.path: what is wrong, what is expected``."""

    def __init__(self, file: str, issues: Sequence[ScheduleIssue]) -> None:
        self.file = file
        self.issues: List[ScheduleIssue] = list(issues)
        super().__init__("\n".join(i.format(file) for i in self.issues))


def js_number(v: float) -> str:
    """A number as JavaScript's ``String(v)`` writes it (``100`` not ``100.0``, ``1e-7``,
    ``1e+21``, ``Infinity``), so messages and written files match the TypeScript side byte for byte."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        v = float(v) if abs(v) >= 10**21 else v
        if isinstance(v, int):
            return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "0"
    if v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    r = repr(v)
    if "e" not in r:
        return r
    mant, exp_s = r.split("e")
    exp = int(exp_s)
    if -7 < exp < 21:
        # JavaScript writes positional notation for 1e-7 < |v| < 1e21; Python switches earlier.
        return format(decimal.Decimal(r), "f")
    return f"{mant}e{'+' if exp > 0 else '-'}{abs(exp)}"


def _json_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def describe_value(v: Any) -> str:
    """The "what is wrong" clause for an untrusted value (``"100" is a string``, ``is null``,
    ``is missing``, ...), strings cut at 40 characters -- as ``describeValue`` in TypeScript."""
    if v is _MISSING:
        return "is missing"
    if v is None:
        return "is null"
    if isinstance(v, list):
        return "is an array"
    if isinstance(v, str):
        shown = f"{_json_str(v[:40])}…" if len(v) > 40 else _json_str(v)
        return f"{shown} is a string"
    if isinstance(v, bool):
        return f"{js_number(v)} is a boolean"
    if isinstance(v, (int, float)):
        return f"{js_number(v)} is a number" if math.isfinite(v) else f"{js_number(v)} is not a finite number"
    if isinstance(v, dict):
        return "is an object"
    return f"is a {type(v).__name__}"


def _is_number(v: Any) -> bool:
    # bool is an int subclass in Python; JSON true/false are never numbers.
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_integer(v: Any) -> bool:
    """JavaScript's Number.isInteger: 3 and 3.0 are integers, 3.5 and Infinity are not."""
    if not _is_number(v):
        return False
    return isinstance(v, int) or (math.isfinite(v) and float(v).is_integer())


def number_problem(v: Any, want: str) -> str:
    """What is wrong with a value that should have been a number in some range."""
    if not _is_number(v) or not math.isfinite(v):
        return describe_value(v)
    if want == "integer" and not _is_integer(v):
        return f"{js_number(v)} is not an integer"
    return f"{js_number(v)} is out of range"


def _range_text(lo: int, hi: int) -> str:
    if hi >= _MAX_SAFE_INTEGER:
        return f"an integer ≥ {lo}"
    return f"the integer {lo}" if lo == hi else f"an integer in {lo}…{hi}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Issues:
    """Collects issues while walking an untrusted JSON value (``IssueCollector`` in TypeScript)."""

    def __init__(self) -> None:
        self.issues: List[ScheduleIssue] = []
        self.dropped = 0

    def add(self, path: str, message: str) -> None:
        if len(self.issues) >= MAX_ISSUES:
            self.dropped += 1
            return
        self.issues.append(ScheduleIssue(path, message))

    @property
    def full(self) -> bool:
        return len(self.issues) >= MAX_ISSUES

    @property
    def clean(self) -> bool:
        return not self.issues

    def result(self) -> List[ScheduleIssue]:
        if not self.dropped:
            return list(self.issues)
        return [*self.issues, ScheduleIssue("", f"{self.dropped} more issue(s) not shown, fix the ones above first")]

    def object(self, v: Any, path: str, keys: Sequence[str], what: str) -> Optional[Dict[str, Any]]:
        if not isinstance(v, dict):
            self.add(path, f"{describe_value(v)}, expected {what}")
            return None
        for k in keys:
            if k not in v:
                self.add(_join(path, k), f"is missing, expected {what}")
        for k in v:
            if k not in keys:
                self.add(_join(path, k), f'unknown key "{k}", expected only {", ".join(keys)}')
        return v

    def string(self, v: Any, path: str, what: str, test=lambda s: len(s) > 0) -> Optional[str]:
        if isinstance(v, str) and test(v):
            return v
        self.add(path, f"{describe_value(v)}, expected {what}")
        return None

    def integer(self, v: Any, path: str, lo: int, hi: int = _MAX_SAFE_INTEGER) -> Optional[int]:
        if _is_integer(v) and lo <= v <= hi:
            return int(v)
        self.add(path, f"{number_problem(v, 'integer')}, expected {_range_text(lo, hi)}")
        return None

    def non_negative(self, v: Any, path: str) -> Optional[float]:
        if _is_number(v) and math.isfinite(v) and v >= 0:
            return v
        self.add(path, f"{number_problem(v, 'number')}, expected a finite number ≥ 0")
        return None

    def boolean(self, v: Any, path: str) -> Optional[bool]:
        if isinstance(v, bool):
            return v
        self.add(path, f"{describe_value(v)}, expected true or false")
        return None

    def file_ref(self, v: Any, path: str, what: str) -> Optional[FileRef]:
        o = self.object(v, path, ("path", "sha256"), f"{what} as {{path, sha256}}")
        if o is None:
            return None
        p = self.string(o.get("path", _MISSING), _join(path, "path"), "a non-empty path relative to this file")
        h = self.string(
            o.get("sha256", _MISSING),
            _join(path, "sha256"),
            "a lower-case hex sha256 (64 characters)",
            lambda s: _SHA256.fullmatch(s) is not None,
        )
        return FileRef(p, h) if p is not None and h is not None else None


# ---------------------------------------------------------------------------------------------
# JSON reading


class _Obj(dict):
    """A JSON object that remembers which keys occurred more than once (the last one wins)."""

    dups: List[str]


def _pairs(pairs: List[Tuple[str, Any]]) -> _Obj:
    o = _Obj()
    o.dups = []
    for k, v in pairs:
        if k in o:
            o.dups.append(k)
        o[k] = v
    return o


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity, RFC 8259 (and the TypeScript reader) do not.
    raise ValueError(f"unexpected {name}, expected a JSON value (NaN and Infinity are not JSON)")


def _child_path(path: str, key: str) -> str:
    if _IDENT.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{_json_str(key)}]"


def _walk_duplicates(v: Any, path: str, depth: int, out: List[str]) -> int:
    """Collect duplicate-key paths; returns the nesting depth below ``v``."""
    deepest = depth
    if depth > _MAX_JSON_DEPTH:
        return depth  # too deep: reported by the caller; do not recurse further
    if isinstance(v, _Obj):
        for k in v.dups:
            out.append(_child_path(path, k))
        for k, x in v.items():
            deepest = max(deepest, _walk_duplicates(x, _child_path(path, k), depth + 1, out))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            deepest = max(deepest, _walk_duplicates(x, f"{path}[{i}]", depth + 1, out))
    return deepest


def parse_schedule(text: str, file: str = "schedule") -> Schedule:
    """Parse and validate the text of a ``.bacschedule``; ``file`` names it in messages.

    Returns the :class:`Schedule`, or raises :class:`ScheduleError` listing every issue found. As the
    TypeScript reader, a wrong ``format`` or ``version`` stops validation (the rest would be noise),
    and the ``summary`` is shape-checked but its numbers are not trusted.
    """
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise ScheduleError(
            file, [ScheduleIssue("", f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}", e.lineno, e.colno)]
        ) from None
    except (ValueError, RecursionError) as e:
        raise ScheduleError(file, [ScheduleIssue("", f"invalid JSON: {e}")]) from None
    c = _Issues()
    dups: List[str] = []
    if _walk_duplicates(value, "", 0, dups) > _MAX_JSON_DEPTH:
        raise ScheduleError(
            file, [ScheduleIssue("", f"invalid JSON: nesting deeper than {_MAX_JSON_DEPTH} levels, expected a shallower document")]
        )
    for d in dups:
        c.add(d, "duplicate key, expected each key once")
    schedule = _validate(value, c, file)
    if schedule is None or not c.clean:
        raise ScheduleError(file, c.result())
    return schedule


def load_schedule(path: str) -> Schedule:
    """Read and validate a ``.bacschedule`` file (UTF-8 JSON, format version 1).

    Applies the rules of BAC Studio's editor and CLI: format and version; ``model`` and
    ``solver.profile`` as ``{path, sha256}``; ``sampler`` ``{type, steps}`` with 1 ≤ K ≤ 100000;
    solver budget in 1 … K; costs ≥ 0; a ``summary`` of the right shape; one block per
    ``<layer>.<kind>`` for every layer, in model order, each with strictly increasing steps in
    0 … K−1, origins (acs, bua, manual) disjoint and holding step 0, ``manualOff`` disjoint from
    them and without 0; no unknown or duplicate keys.

    Raises :class:`ScheduleError` (a ``ValueError``) listing every issue as
    ``file: json.path: what is wrong, what is expected``; ``OSError`` when the file cannot be read.
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScheduleError(
            path, [ScheduleIssue("", f"is not UTF-8 text (byte {e.start}), expected a UTF-8 JSON .bacschedule")]
        ) from None
    sched = parse_schedule(text, path)
    return Schedule(sched.model, sched.sampler, sched.solver, sched.base_cost, sched.blocks, source=path)


_MEASURED_KEYS = ("provider", "device", "batch", "speedup", "chunkMs", "fullChunkMs", "at", "tableHash")


def _check_measured(v: Any, c: "_Issues") -> None:
    m = c.object(v, "measured", _MEASURED_KEYS, "the measured speed {" + ", ".join(_MEASURED_KEYS) + "}")
    if m is None:
        return
    for k in ("provider", "device", "at", "tableHash"):
        c.string(m.get(k, _MISSING), f"measured.{k}", "a non-empty string")
    c.integer(m.get("batch", _MISSING), "measured.batch", 1)
    for k in ("speedup", "chunkMs", "fullChunkMs"):
        c.non_negative(m.get(k, _MISSING), f"measured.{k}")


def _validate(value: Any, c: _Issues, file: str) -> Optional[Schedule]:
    # "measured" (bac eval's measured speed) is optional; the runtime does not use it
    keys = _ROOT_KEYS + (("measured",) if isinstance(value, dict) and "measured" in value else ())
    root = c.object(value, "", keys, f'a .bacschedule object (format "{SCHEDULE_FORMAT}")')
    if root is None:
        return None
    if "measured" in root:
        _check_measured(root["measured"], c)
    fmt = root.get("format", _MISSING)
    if fmt != SCHEDULE_FORMAT:
        got = f'"{fmt}" is not a BAC schedule' if isinstance(fmt, str) else describe_value(fmt)
        c.add("format", f'{got}, expected "{SCHEDULE_FORMAT}"')
        return None
    version = root.get("version", _MISSING)
    if not (_is_number(version) and version == SCHEDULE_VERSION):
        got = f"version {js_number(version)} is not supported" if _is_number(version) else describe_value(version)
        c.add(
            "version",
            f"{got}, expected {SCHEDULE_VERSION} (the only .bacschedule version this BAC Studio reads; "
            "a newer file needs a newer BAC Studio)",
        )
        return None
    model = c.file_ref(root.get("model", _MISSING), "model", "the model this schedule belongs to")
    sampler_obj = c.object(root.get("sampler", _MISSING), "sampler", ("type", "steps"), "the sampler as {type, steps}")
    stype = K = None
    if sampler_obj is not None:
        stype = c.string(sampler_obj.get("type", _MISSING), "sampler.type", 'a sampler name such as "ddpm" or "ddim"')
        K = c.integer(sampler_obj.get("steps", _MISSING), "sampler.steps", 1, MAX_STEPS)

    solver_obj = c.object(
        root.get("solver", _MISSING),
        "solver",
        ("budget", "topN", "forceLast", "profile"),
        "the solver parameters as {budget, topN, forceLast, profile}",
    )
    solver = None
    if solver_obj is not None:
        budget = c.integer(solver_obj.get("budget", _MISSING), "solver.budget", 1, K if K is not None else MAX_STEPS)
        top_n = c.integer(solver_obj.get("topN", _MISSING), "solver.topN", 0)
        force_last = c.boolean(solver_obj.get("forceLast", _MISSING), "solver.forceLast")
        prof_v = solver_obj.get("profile", _MISSING)
        profile: Any = None if prof_v is None else c.file_ref(prof_v, "solver.profile", "the source profile or null")
        if budget is not None and top_n is not None and force_last is not None and (prof_v is None or profile):
            solver = SolverParams(budget, top_n, force_last, profile)
    base_cost = _cost(root.get("baseCost", _MISSING), "baseCost", c)
    _check_summary(root.get("summary", _MISSING), c)
    blocks = _check_blocks(root.get("blocks", _MISSING), K, c)
    if model is None or stype is None or K is None or solver is None or base_cost is None or blocks is None:
        return None
    return Schedule(model, SamplerInfo(stype, K), solver, base_cost, tuple(blocks), source=file)


def _cost(v: Any, path: str, c: _Issues) -> Optional[Cost]:
    o = c.object(v, path, ("flops", "timeUs"), "a cost as {flops, timeUs}")
    if o is None:
        return None
    flops = c.integer(o.get("flops", _MISSING), _join(path, "flops"), 0)
    time_us = c.non_negative(o.get("timeUs", _MISSING), _join(path, "timeUs"))
    return Cost(flops, time_us) if flops is not None and time_us is not None else None


def _check_summary(v: Any, c: _Issues) -> None:
    keys = ("updates", "fullUpdates", "speedupFlops", "speedupTime")
    o = c.object(v, "summary", keys, "the derived summary {updates, fullUpdates, speedupFlops, speedupTime}")
    if o is None:
        return
    c.integer(o.get("updates", _MISSING), "summary.updates", 0)
    c.integer(o.get("fullUpdates", _MISSING), "summary.fullUpdates", 0)
    for k in ("speedupFlops", "speedupTime"):
        s = o.get(k, _MISSING)
        if s is not None and not (_is_number(s) and math.isfinite(s) and s >= 0):
            c.add(f"summary.{k}", f"{describe_value(s)}, expected a finite number ≥ 0 or null")


def _check_blocks(v: Any, K: Optional[int], c: _Issues) -> Optional[List[ScheduleBlock]]:
    if not isinstance(v, list):
        c.add("blocks", f"{describe_value(v)}, expected an array of blocks in model order")
        return None
    blocks: List[ScheduleBlock] = []
    ids: List[Optional[str]] = []
    complete = True
    for i, b in enumerate(v):
        path = f"blocks[{i}]"
        o = c.object(b, path, _BLOCK_KEYS, "a block as {id, acs, bua, manual, manualOff, flops, timeUs}")
        if o is None:
            ids.append(None)
            complete = False
            continue
        bid = c.string(
            o.get("id", _MISSING),
            f"{path}.id",
            'a block id "<layer>.<kind>" such as "0.sa", "3.ca" or "7.ffn"',
            lambda s: _BLOCK_ID.fullmatch(s) is not None,
        )
        ids.append(bid)
        sets = {k: _step_list(o.get(k, _MISSING), f"{path}.{k}", K, c) for k in (*_ORIGIN_KEYS, "manualOff")}
        flops = c.integer(o.get("flops", _MISSING), f"{path}.flops", 0)
        time_us = c.non_negative(o.get("timeUs", _MISSING), f"{path}.timeUs")
        if all(s is not None for s in sets.values()):
            _check_origins(path, {k: sets[k] for k in _ORIGIN_KEYS}, sets["manualOff"], c)
            if bid is not None and flops is not None and time_us is not None:
                blocks.append(
                    ScheduleBlock(
                        bid,
                        tuple(sets["acs"]),
                        tuple(sets["bua"]),
                        tuple(sets["manual"]),
                        tuple(sets["manualOff"]),
                        Cost(flops, time_us),
                    )
                )
                continue
        complete = False
    _check_block_ids(c, ids, "blocks")
    return blocks if complete else None


def _step_list(v: Any, path: str, K: Optional[int], c: _Issues) -> Optional[List[int]]:
    """A strictly increasing list of steps in 0 … K−1 (range unchecked beyond MAX_STEPS when K is unknown)."""
    if not isinstance(v, list):
        c.add(path, f"{describe_value(v)}, expected an array of steps (integers, strictly increasing)")
        return None
    ok = True
    prev = -1
    hi = (K if K is not None else MAX_STEPS) - 1
    for j, s in enumerate(v):
        at = f"{path}[{j}]"
        if not _is_integer(s):
            c.add(at, f"{number_problem(s, 'integer')}, expected a step: an integer in 0…{hi}")
            ok = False
        elif s < 0 or s > hi:
            c.add(at, f"step {js_number(s)} is out of range, expected an integer in 0…{hi}")
            ok = False
        else:
            if s == prev:
                c.add(at, f"step {js_number(s)} is repeated, expected each step once")
            elif s < prev:
                c.add(at, f"step {js_number(s)} comes after {js_number(prev)}, expected steps in increasing order")
            ok = ok and s > prev
            prev = max(prev, s)
    return [int(s) for s in v] if ok else None


def _check_origins(path: str, sets: Dict[str, List[int]], manual_off: List[int], c: _Issues) -> None:
    owner: Dict[int, str] = {}
    for k in _ORIGIN_KEYS:
        for j, s in enumerate(sets[k]):
            other = owner.get(s)
            if other is not None:
                c.add(
                    f"{path}.{k}[{j}]",
                    f"step {s} is also in {other}, expected each update under one origin (acs, bua or manual)",
                )
            else:
                owner[s] = k
    if 0 not in owner:
        c.add(path, "step 0 is not an update, expected 0 in acs, bua or manual (every block computes at step 0)")
    for j, s in enumerate(manual_off):
        at = f"{path}.manualOff[{j}]"
        if s == 0:
            c.add(at, "step 0 cannot be switched off, expected steps ≥ 1 (every block computes at step 0)")
        elif s in owner:
            c.add(at, f"step {s} is also an update (in {owner[s]}), expected manualOff disjoint from acs, bua and manual")


def _check_block_ids(c: _Issues, ids: Sequence[Optional[str]], path: str) -> None:
    """Block ids unique, in model order and complete (sa, ca, ffn for every layer 0 … max)."""
    if not ids:
        c.add(path, "is empty, expected the sa, ca and ffn blocks of every decoder layer")
        return
    seen: Dict[str, int] = {}
    prev: Optional[Tuple[str, int]] = None
    max_layer = -1
    for i, bid in enumerate(ids):
        if bid is None:
            continue
        m = _BLOCK_ID.fullmatch(bid)
        if not m:
            continue
        layer = int(m.group(1))
        rank = layer * 3 + BLOCK_KINDS.index(m.group(2))
        id_path = f"{path}[{i}].id"
        if bid in seen:
            c.add(id_path, f'duplicate block "{bid}" (also {path}[{seen[bid]}]), expected each block once')
            continue
        seen[bid] = i
        if prev is not None and rank < prev[1]:
            c.add(id_path, f'"{bid}" comes after "{prev[0]}", expected model order (layer ascending, then sa, ca, ffn)')
        if prev is None or rank > prev[1]:
            prev = (bid, rank)
        max_layer = max(max_layer, layer)
    if max_layer < 0 or any(bid is None or not _BLOCK_ID.fullmatch(bid) for bid in ids):
        return
    missing_total = 3 * (max_layer + 1) - len(seen)
    reported = 0
    for layer in range(max_layer + 1):
        if reported == missing_total or c.full:
            break
        for kind in BLOCK_KINDS:
            bid = f"{layer}.{kind}"
            if bid not in seen:
                c.add(path, f'block "{bid}" is missing, expected sa, ca and ffn for every layer 0…{max_layer}')
                reported += 1
    # Up to a million layers can be claimed: count the rest instead of enumerating them.
    c.dropped += missing_total - reported


def validate_schedule(schedule: Schedule) -> None:
    """Check a :class:`Schedule` built in code against the file invariants by writing and re-reading
    it; raises :class:`ScheduleError` when it could not be saved as a valid ``.bacschedule``."""
    parse_schedule(dumps_schedule(schedule, check=False), schedule.source or "schedule")


# ---------------------------------------------------------------------------------------------
# Writing and building


def _round_ratio(x: Optional[float]) -> Optional[float]:
    if x is None or not math.isfinite(x):
        return None
    # Math.round(x * 1000) / 1000 (round half up, unlike Python's round half to even)
    return math.floor(x * 1000 + 0.5) / 1000


def _j(x: Any) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, str):
        return _json_str(x)
    return js_number(x)


def dumps_schedule(schedule: Schedule, check: bool = True) -> str:
    """Serialise a schedule exactly as BAC Studio's ``serializeSchedule`` does: fixed key order,
    2-space indent, one line per block, trailing newline, the ``summary`` recomputed. With
    ``check`` the text is re-read and :class:`ScheduleError` raised when it would be invalid."""
    s = schedule
    summary = s.summarize()

    def ref(r: FileRef, indent: str) -> str:
        return f'{{\n{indent}  "path": {_j(r.path)},\n{indent}  "sha256": {_j(r.sha256)}\n{indent}}}'

    def steps(a: Iterable[int]) -> str:
        return "[" + ", ".join(_j(x) for x in a) + "]"

    block_lines = [
        f'    {{ "id": {_j(b.id)}, "acs": {steps(b.acs)}, "bua": {steps(b.bua)}, "manual": {steps(b.manual)}, '
        f'"manualOff": {steps(b.manual_off)}, "flops": {_j(b.cost.flops)}, "timeUs": {_j(b.cost.time_us)} }}'
        for b in s.blocks
    ]
    profile = "null" if s.solver.profile is None else ref(s.solver.profile, "    ")
    blocks = '  "blocks": []' if not block_lines else '  "blocks": [\n' + ",\n".join(block_lines) + "\n  ]"
    text = "\n".join(
        [
            "{",
            f'  "format": {_j(SCHEDULE_FORMAT)},',
            f'  "version": {SCHEDULE_VERSION},',
            f'  "model": {ref(s.model, "  ")},',
            '  "sampler": {',
            f'    "type": {_j(s.sampler.type)},',
            f'    "steps": {_j(s.sampler.steps)}',
            "  },",
            '  "solver": {',
            f'    "budget": {_j(s.solver.budget)},',
            f'    "topN": {_j(s.solver.top_n)},',
            f'    "forceLast": {_j(s.solver.force_last)},',
            f'    "profile": {profile}',
            "  },",
            '  "baseCost": {',
            f'    "flops": {_j(s.base_cost.flops)},',
            f'    "timeUs": {_j(s.base_cost.time_us)}',
            "  },",
            '  "summary": {',
            f'    "updates": {_j(summary["updates"])},',
            f'    "fullUpdates": {_j(summary["fullUpdates"])},',
            f'    "speedupFlops": {_j(_round_ratio(summary["speedupFlops"]))},',
            f'    "speedupTime": {_j(_round_ratio(summary["speedupTime"]))}',
            "  },",
            blocks,
            "}",
            "",
        ]
    )
    if check:
        parse_schedule(text, s.source or "schedule")
    return text


def schedule_from_steps(
    steps_by_block: Dict[str, Sequence[int]],
    K: int,
    *,
    sampler_type: str = "ddpm",
    budget: Optional[int] = None,
    model: FileRef = FileRef("policy.onnx", "0" * 64),
) -> Schedule:
    """A hand-made schedule: ``{block id: update steps}`` in model order, every step recorded as an
    ``acs`` update (step 0 is added when absent), zero costs. Raises :class:`ScheduleError` when
    the result breaks an invariant (e.g. a missing block). Handy for tests and baselines."""
    blocks = tuple(
        ScheduleBlock(bid, tuple(sorted(set(st) | {0})), (), (), (), Cost(0, 0.0)) for bid, st in steps_by_block.items()
    )
    M = budget if budget is not None else max((len(b.acs) for b in blocks), default=1)
    sched = Schedule(model, SamplerInfo(sampler_type, K), SolverParams(min(M, K), 0, False, None), Cost(0, 0.0), blocks)
    validate_schedule(sched)
    return sched


def block_ids(n_layers: int) -> List[str]:
    """Block ids of a model with ``n_layers`` decoder layers, in model order."""
    return [f"{layer}.{kind}" for layer in range(n_layers) for kind in BLOCK_KINDS]


def full_schedule(n_layers: int, K: int, sampler_type: str = "ddpm") -> Schedule:
    """Full baseline: every block updates at every step (the patched model computes what the
    unpatched one does)."""
    return schedule_from_steps({b: range(K) for b in block_ids(n_layers)}, K, sampler_type=sampler_type, budget=K)


def uniform_steps(K: int, M: int) -> List[int]:
    """Uniform(M) update steps: k ≡ 0 (mod ⌊K/M⌋), as BAC Studio's ``uniformSteps`` (and the official
    code's ``step % N == 0``)."""
    if not (isinstance(M, int) and 1 <= M <= K):
        raise ValueError(f"budget {M} is out of range, expected an integer in 1…{K} (K = {K} steps)")
    n = K // M
    return [k for k in range(K) if k % n == 0]


def uniform_schedule(n_layers: int, K: int, M: int, sampler_type: str = "ddpm") -> Schedule:
    """Uniform(M) baseline: every block updates at the same ⌊K/M⌋-spaced steps."""
    st = uniform_steps(K, M)
    return schedule_from_steps({b: st for b in block_ids(n_layers)}, K, sampler_type=sampler_type, budget=M)
