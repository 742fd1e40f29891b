"""Reading, validating and writing ``.bacschedule`` files (format version 1).

Validation follows the contract BAC Studio's TypeScript reader follows -- the JSON Schema
``schemas/bacschedule.schema.json`` and the rule table ``schemas/bac-rules.json``, interpreted by
:mod:`bac_runtime.contract` -- so the same files are accepted and rejected by both (a fuzzed test in
``python/tests/test_runtime.py`` checks it). Messages say what is wrong and what is expected; they
need not match the TypeScript ones byte for byte. Writing is byte-identical to BAC Studio's
``serializeSchedule`` (that is what people diff).

Only the standard library is used (no torch), so this module can be imported anywhere.
"""

from __future__ import annotations

import decimal
import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from . import contract

#: Value of the ``format`` field of every ``.bacschedule``.
SCHEDULE_FORMAT = "bacschedule"
#: The only ``.bacschedule`` version this runtime reads and writes.
SCHEDULE_VERSION = 1
#: Largest K accepted (from the rule table): it bounds the work of validation.
MAX_STEPS: int = contract.LIMITS["maxSteps"]
#: At most this many issues are listed per file; a final issue says how many more were cut.
MAX_ISSUES: int = contract.LIMITS["maxIssues"]
#: Largest schedule text read (from the rule table).
MAX_SCHEDULE_BYTES: int = contract.LIMITS["maxScheduleBytes"]
#: Residual branches of a pre-norm decoder layer, in the order the residual stream visits them.
BLOCK_KINDS: Tuple[str, str, str] = tuple(contract.RULES["blockIds"]["kinds"])  # type: ignore[assignment]


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
    """How the schedule was produced: ACS budget M, BUA top-n, forceLast, source profile (or None),
    and the schedule method (``bac`` when the file names none; ``bac`` is never written)."""

    budget: int
    top_n: int
    force_last: bool
    profile: Optional[FileRef]
    method: str = "bac"


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
        measured) from the cost model full/cached of docs/method.md."""
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


def _js_number(v: float) -> str:
    """A number as JavaScript's ``String(v)`` writes it (``100`` not ``100.0``, ``1e-7``, ``1e+21``),
    so written files match BAC Studio's byte for byte."""
    if isinstance(v, int) and abs(v) < 10**21:
        return str(v)
    v = float(v)
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


def parse_schedule(text: str, file: str = "schedule") -> Schedule:
    """Parse and validate the text of a ``.bacschedule``; ``file`` names it in messages.

    Returns the :class:`Schedule`, or raises :class:`ScheduleError` listing every issue found. As the
    TypeScript reader, a wrong ``format`` or ``version`` stops validation (the rest would be noise),
    and a ``summary`` (written by earlier versions, derived) is shape-checked and ignored.
    """
    if len(text) > MAX_SCHEDULE_BYTES:
        message = (
            f"is over {MAX_SCHEDULE_BYTES >> 20} MB, expected at most {MAX_SCHEDULE_BYTES >> 20} MB (a .bacschedule of "
            "a real model is far smaller; this limit bounds the work of reading one)"
        )
        raise ScheduleError(file, [ScheduleIssue("", message)])
    try:
        value = contract.loads(text)
    except json.JSONDecodeError as e:
        raise ScheduleError(
            file, [ScheduleIssue("", f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}", e.lineno, e.colno)]
        ) from None
    except (ValueError, RecursionError) as e:
        raise ScheduleError(file, [ScheduleIssue("", f"invalid JSON: {e}")]) from None
    c = contract.Issues(MAX_ISSUES)
    dups: List[str] = []
    if _walk_duplicates(value, "", 0, dups) > contract.LIMITS["maxJsonDepth"]:
        depth = contract.LIMITS["maxJsonDepth"]
        raise ScheduleError(file, [ScheduleIssue("", f"invalid JSON: nesting deeper than {depth} levels, expected a shallower document")])
    for d in dups:
        c.add(d, "duplicate key, expected each key once")
    contract.validate(value, c)
    if not c.clean:
        order = contract.document_order(value)
        issues = [ScheduleIssue(p, m) for p, m in sorted(c.issues, key=lambda i: order(i[0]))]
        if c.dropped:
            issues.append(ScheduleIssue("", f"{c.dropped} more issue(s) not shown, fix the ones above first"))
        raise ScheduleError(file, issues)
    return _schedule_of(value, file)


def _walk_duplicates(v: Any, path: str, depth: int, out: List[str]) -> int:
    """Collect duplicate-key paths; returns the nesting depth below ``v``."""
    deepest = depth
    if depth > contract.LIMITS["maxJsonDepth"]:
        return depth  # too deep: reported by the caller; do not recurse further
    if isinstance(v, contract.Obj):
        for k in v.dups:
            out.append(contract.child_path(path, k))
        for k, x in v.items():
            deepest = max(deepest, _walk_duplicates(x, contract.child_path(path, k), depth + 1, out))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            deepest = max(deepest, _walk_duplicates(x, f"{path}[{i}]", depth + 1, out))
    return deepest


def _schedule_of(d: Dict[str, Any], file: str) -> Schedule:
    """The in-memory schedule of a document the contract accepted."""
    ref = lambda r: FileRef(r["path"], r["sha256"])  # noqa: E731
    steps = lambda a: tuple(int(x) for x in a)  # noqa: E731
    num = lambda x: x if isinstance(x, int) else float(x)  # noqa: E731
    sv = d["solver"]
    blocks = tuple(
        ScheduleBlock(b["id"], steps(b["acs"]), steps(b["bua"]), steps(b["manual"]), steps(b["manualOff"]),
                      Cost(int(b["flops"]), num(b["timeUs"])))
        for b in d["blocks"]
    )
    return Schedule(
        ref(d["model"]),
        SamplerInfo(d["sampler"]["type"], int(d["sampler"]["steps"])),
        SolverParams(
            int(sv["budget"]),
            int(sv["topN"]),
            sv["forceLast"],
            None if sv["profile"] is None else ref(sv["profile"]),
            sv.get("method", "bac"),
        ),
        Cost(int(d["baseCost"]["flops"]), num(d["baseCost"]["timeUs"])),
        blocks,
        source=file,
    )


def load_schedule(path: str) -> Schedule:
    """Read and validate a ``.bacschedule`` file (UTF-8 JSON, format version 1).

    Applies the rules of BAC Studio's editor and CLI: format and version; ``model`` and
    ``solver.profile`` as ``{path, sha256}``; ``sampler`` ``{type, steps}`` with 1 ≤ K ≤ 100000;
    solver budget in 1 … K; costs ≥ 0; an optional legacy ``summary`` of the right shape; one block per
    ``<layer>.<kind>`` for every layer, in model order, each with strictly increasing steps in
    0 … K−1, origins (acs, bua, manual) disjoint and holding step 0, ``manualOff`` disjoint from
    them and without 0; no unknown or duplicate keys.

    Raises :class:`ScheduleError` (a ``ValueError``) listing every issue as
    ``file: json.path: what is wrong, what is expected``; ``OSError`` when the file cannot be read.
    """
    with open(path, "rb") as f:
        # One byte past the limit is enough to refuse without reading a huge file.
        data = f.read(MAX_SCHEDULE_BYTES + 1)
    if len(data) > MAX_SCHEDULE_BYTES:
        return parse_schedule("x" * (MAX_SCHEDULE_BYTES + 1), path)  # raises the size issue
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScheduleError(
            path, [ScheduleIssue("", f"is not UTF-8 text (byte {e.start}), expected a UTF-8 JSON .bacschedule")]
        ) from None
    sched = parse_schedule(text, path)
    return Schedule(sched.model, sched.sampler, sched.solver, sched.base_cost, sched.blocks, source=path)


def validate_schedule(schedule: Schedule) -> None:
    """Check a :class:`Schedule` built in code against the file invariants by writing and re-reading
    it; raises :class:`ScheduleError` when it could not be saved as a valid ``.bacschedule``."""
    parse_schedule(dumps_schedule(schedule, check=False), schedule.source or "schedule")


# ---------------------------------------------------------------------------------------------
# Writing and building


def _j(x: Any) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, str):
        return _json_str(x)
    return _js_number(x)


def dumps_schedule(schedule: Schedule, check: bool = True) -> str:
    """Serialise a schedule exactly as BAC Studio's ``serializeSchedule`` does: fixed key order,
    2-space indent, one line per block, trailing newline, no derived numbers (no ``summary``). With
    ``check`` the text is re-read and :class:`ScheduleError` raised when it would be invalid."""
    s = schedule

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
            *([f'    "method": {_j(s.solver.method)},'] if s.solver.method != "bac" else []),
            f'    "budget": {_j(s.solver.budget)},',
            f'    "topN": {_j(s.solver.top_n)},',
            f'    "forceLast": {_j(s.solver.force_last)},',
            f'    "profile": {profile}',
            "  },",
            '  "baseCost": {',
            f'    "flops": {_j(s.base_cost.flops)},',
            f'    "timeUs": {_j(s.base_cost.time_us)}',
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
