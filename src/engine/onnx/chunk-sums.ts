/**
 * The residual sums of a chunk graph in as few kernel dispatches as the unrolled steps allow. At a
 * step where blocks reuse, the residual stream is x + o_1 + o_2 + … of block outputs computed at
 * earlier steps: one Add per block in the step graph, each a dispatch that costs more than its
 * arithmetic at these sizes. {@link mergeAddChains} makes each chain one `Sum`;
 * {@link shareCarriedSums} then sums the final norm's terms carried from earlier steps once, for
 * every later step that reads the same terms (between two updates, every step reads the same cached
 * outputs).
 *
 * Both rewrites change only the float32 summation order (Sum broadcasts like Add), never which
 * terms are summed.
 *
 * Value names follow `chunk-graph.ts`: a value computed at step k is named `s<k>/…`; shared values,
 * the chunk's inputs and initializers have no such prefix.
 */
import { makeNode, type NodeProto } from './proto';

/** The step whose value `name` is (`s<k>/…`), or -1 for shared values, inputs and initializers. */
export function stepOfValue(name: string): number {
  const m = /^s(\d+)\//.exec(name);
  return m ? Number(m[1]) : -1;
}

const isAddOrSum = (n: NodeProto | undefined): n is NodeProto =>
  n !== undefined && (n.opType === 'Add' || n.opType === 'Sum') && !n.domain && n.output.length === 1;

/**
 * Chains of `Add` become one `Sum`: an Add or Sum whose result only one Add reads (and that is no
 * output) is folded into that Add, which becomes a Sum of all their inputs. O(nodes).
 */
export function mergeAddChains(nodes: readonly NodeProto[], outputs: ReadonlySet<string>): NodeProto[] {
  const readers = countReaders(nodes);
  const producer = new Map<string, NodeProto>();
  for (const node of nodes) for (const o of node.output) if (o) producer.set(o, node);
  const folded = new Set<NodeProto>();
  const merged = new Map<NodeProto, NodeProto>();
  for (const node of nodes) {
    if (node.opType !== 'Add' || node.domain) continue;
    const inputs: string[] = [];
    let grew = false;
    for (const x of node.input) {
      const p = producer.get(x);
      const source = p && (merged.get(p) ?? p);
      if (isAddOrSum(p) && isAddOrSum(source) && readers.get(x) === 1 && !outputs.has(x)) {
        inputs.push(...source.input);
        folded.add(p);
        grew = true;
      } else inputs.push(x);
    }
    if (grew) merged.set(node, { ...node, opType: 'Sum', input: inputs });
  }
  return nodes.filter((n) => !folded.has(n)).map((n) => merged.get(n) ?? n);
}

/**
 * The final norm's residual sum, shared between steps: a `SkipLayerNormalization` of step k whose
 * input is a Sum (read by nothing else) and whose skip is carried in (computed at an earlier step,
 * shared, or an initializer) reads the carried terms — the Sum's and the skip — as one sum, emitted
 * before the first step that carries exactly those terms (same names, same order) and read by every
 * later step that does; the norm's input is then the step's own terms (one value, or their Sum).
 * Between two updates every step carries the same cached block outputs, so at a step where every
 * block reuses the final norm reads the input embedding and the shared sum, with no Sum of its own.
 * Only when two or more steps share the terms: for one step the split would add a node.
 *
 * Only the final norm's input is re-associated: the residual sums a block reads keep their order,
 * so block outputs stay bit-identical to the per-step runner's; the prediction moves by float32
 * rounding of the norm's input.
 *
 * Invariant relied on: a value computed at step k in the residual stream has the stream's full
 * shape (it derives from the sample, which has every row), so a lone step term can stand as the
 * norm's input. O(nodes + edges).
 */
export function shareCarriedSums(nodes: readonly NodeProto[], outputs: ReadonlySet<string>): NodeProto[] {
  const readers = countReaders(nodes);
  const sumOf = new Map<string, NodeProto>();
  for (const node of nodes) if (isAddOrSum(node)) sumOf.set(node.output[0]!, node);
  interface Split {
    readonly norm: NodeProto;
    readonly local: string[];
    readonly carried: string[];
    readonly key: string;
  }
  const splits = new Map<NodeProto, Split>();
  const uses = new Map<string, number>();
  for (const norm of nodes) {
    if (norm.opType !== 'SkipLayerNormalization' || norm.domain !== 'com.microsoft') continue;
    const sum = sumOf.get(norm.input[0] ?? '');
    const k = stepOfValue(norm.output[0] ?? '');
    const skip = norm.input[1] ?? '';
    if (!sum || k < 0 || stepOfValue(skip) === k || norm.output.some((o, i) => i > 0 && o)) continue;
    if (readers.get(sum.output[0]!) !== 1 || outputs.has(sum.output[0]!)) continue;
    const local = sum.input.filter((x) => stepOfValue(x) === k);
    const carried = [...sum.input.filter((x) => stepOfValue(x) !== k), skip];
    if (local.length === 0) continue;
    const key = carried.join('\n');
    splits.set(sum, { norm, local, carried, key });
    uses.set(key, (uses.get(key) ?? 0) + 1);
  }
  const shared = new Map<string, string>();
  const rewritten = new Map<NodeProto, NodeProto>();
  const out: NodeProto[] = [];
  for (const node of nodes) {
    const split = splits.get(node);
    if (!split || uses.get(split.key)! < 2) {
      out.push(rewritten.get(node) ?? node);
      continue;
    }
    const { norm, local, carried, key } = split;
    let sum = shared.get(key);
    if (sum === undefined) {
      sum = `s${stepOfValue(node.output[0]!)}/carried_sum_${shared.size}`;
      shared.set(key, sum);
      out.push(makeNode('Sum', carried, [sum], sum));
    }
    if (local.length > 1) out.push({ ...node, opType: 'Sum', input: local });
    const input = local.length === 1 ? local[0]! : node.output[0]!;
    rewritten.set(norm, { ...norm, input: [input, sum, ...norm.input.slice(2)] });
  }
  return out;
}

function countReaders(nodes: readonly NodeProto[]): Map<string, number> {
  const readers = new Map<string, number>();
  for (const node of nodes) for (const x of node.input) if (x) readers.set(x, (readers.get(x) ?? 0) + 1);
  return readers;
}
