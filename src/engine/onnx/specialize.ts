/**
 * Batch specialization: the same model with its batch axis fixed to one size.
 *
 * Exporters leave the batch axis symbolic, so ONNX Runtime cannot fold the attention's shape
 * arithmetic (Shape → Gather → Unsqueeze → Concat → Reshape chains) into constants: on the demo
 * policy that is about 600 of 1 000 nodes after ORT's own optimisations, each dispatched at every
 * denoiser call. With the batch fixed, ORT's shape inference makes those shapes static and its
 * constant folding removes them (1 017 → 422 nodes on the demo policy; the measured effect on
 * call time is in docs/benchmarks.md). The robot samples one chunk at a time, so runners that
 * know their batch use this; a model whose batch axis is already fixed is returned unchanged.
 *
 * onnxruntime-node has no `freeDimensionOverrides` (ORT web only), hence the rewrite here.
 */
import { BacError } from '../../core/errors';
import { decodeOrThrow } from './inspect';
import { encodeModel, type Dim, type GraphProto, type ModelProto, type ValueInfo } from './proto';

/** The contract inputs whose axis 0 is the batch (docs/method.md, model contract). */
const BATCH_INPUTS = ['sample', 'timestep', 'cond'] as const;

/**
 * Returns `model` with axis 0 of the contract inputs, the prediction and the block outputs fixed to `batch`,
 * and every other dimension that used the same symbolic name (intermediate `value_info`, also in
 * subgraphs) fixed with it. Nothing else changes: nodes, initializers and metadata are shared with
 * the input (not mutated). O(value infos).
 * @throws BacError when `batch` is not a positive integer or the model fixes its batch to another size.
 */
export function specializeBatch(model: ModelProto, batch: number, name = 'model.onnx'): ModelProto {
  if (!Number.isInteger(batch) || batch < 1) throw new BacError(`batch must be a positive integer, got ${batch}`);
  const graph = model.graph;
  if (!graph) throw new BacError(`${name}: has no graph, expected an ONNX model`);
  const symbols = new Set<string>();
  const fixAxis0 = (v: ValueInfo, what: string): ValueInfo => {
    const dims = v.type?.tensorType?.shape?.dim;
    if (!dims || dims.length === 0) return v;
    const d0 = dims[0] as Dim;
    if (d0.dimValue !== undefined && d0.dimValue > 0) {
      if (d0.dimValue !== batch) {
        throw new BacError(
          `${name}: ${what} "${v.name}" has a fixed batch of ${d0.dimValue}, cannot run it with batch ${batch}`,
        );
      }
      return v;
    }
    if (d0.dimParam) symbols.add(d0.dimParam);
    return withDims(v, [{ dimValue: batch }, ...dims.slice(1)]);
  };
  const input = graph.input.map((v) =>
    (BATCH_INPUTS as readonly string[]).includes(v.name ?? '') ? fixAxis0(v, 'input') : v,
  );
  // The prediction (first output) and the block outputs are [B, …] by contract; any other output
  // keeps its declared shape.
  const output = graph.output.map((v, i) => (i === 0 || (v.name ?? '').startsWith('bac:') ? fixAxis0(v, 'output') : v));
  const fixNamed = (v: ValueInfo): ValueInfo => {
    const dims = v.type?.tensorType?.shape?.dim;
    if (!dims || !dims.some((d) => d.dimParam !== undefined && symbols.has(d.dimParam))) return v;
    return withDims(
      v,
      dims.map((d) => (d.dimParam !== undefined && symbols.has(d.dimParam) ? { dimValue: batch } : d)),
    );
  };
  const rewrite = (g: GraphProto, top: boolean): GraphProto => ({
    ...g,
    input: top ? input : g.input.map(fixNamed),
    output: top ? output : g.output.map(fixNamed),
    valueInfo: g.valueInfo.map(fixNamed),
    node: g.node.map((n) =>
      n.attribute.some((a) => a.g || a.graphs.length > 0)
        ? {
            ...n,
            attribute: n.attribute.map((a) => ({
              ...a,
              ...(a.g ? { g: rewrite(a.g, false) } : {}),
              graphs: a.graphs.map((sg) => rewrite(sg, false)),
            })),
          }
        : n,
    ),
  });
  return { ...model, graph: rewrite(graph, true) };
}

/** {@link specializeBatch} on file bytes. O(file size). */
export function specializeBatchBytes(bytes: Uint8Array, batch: number, name = 'model.onnx'): Uint8Array {
  return encodeModel(specializeBatch(decodeOrThrow(bytes, name), batch, name));
}

function withDims(v: ValueInfo, dim: Dim[]): ValueInfo {
  const tensorType = v.type?.tensorType;
  return { ...v, type: { ...v.type, tensorType: { ...tensorType, shape: { ...tensorType?.shape, dim } } } };
}
