/**
 * Reading a BAC-ready ONNX model: identity (sha256), inputs and outputs, the block list parsed from
 * `bac:<layer>.<kind>` outputs, the typed `bac.*` metadata, per-block FLOPs, and docs/method.md's model
 * contract check. Every contract problem found is listed in one {@link ModelContractError} (a
 * BacError: the user fixes the export), each naming the input, output or metadata key and what is
 * expected, so one run tells the user everything to fix.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

import { blockId, compareBlocks, parseBlockId } from '../../core/blocks';
import { BacError } from '../../core/errors';
import { BLOCK_KINDS, type BlockId, type BlockKind, type Cost, type IdentifiedBlock } from '../../core/types';
import { computeFlops } from './flops';
import { dataTypeName, decodeModel, defaultOpset, type ModelProto, type ValueInfo } from './proto';

/** Prefix of block output names (docs/method.md): `bac:<layer>.<kind>`. */
export const BLOCK_OUTPUT_PREFIX = 'bac:';

/** A dimension: a fixed size, a symbolic name (e.g. `batch`), or null when not declared. */
export type DimInfo = number | string | null;

/** A graph input or output as declared. */
export interface TensorInfo {
  /** Value name. */
  readonly name: string;
  /** Element type as ORT names it (`float32`, `int64`, `bool` …). */
  readonly dtype: string;
  /** Declared dims; null when the rank is not declared. */
  readonly shape: readonly DimInfo[] | null;
}

/** `bac.sampler`: the diffusers scheduler configuration the policy was trained with. */
export interface BacSamplerMetadata {
  /** `ddpm`, `ddim` … (diffusers naming, lower case). */
  readonly type: string;
  readonly numTrainTimesteps: number;
  readonly betaSchedule: string;
  readonly betaStart: number;
  readonly betaEnd: number;
  /** `epsilon` | `sample` | `v_prediction`. */
  readonly predictionType: string;
  readonly clipSample: boolean;
  /** K: denoiser calls per action chunk. */
  readonly numInferenceSteps: number;
  /** The JSON object as stored, for fields beyond the contract (e.g. `clip_sample_range`). */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** Affine normalisation: normalized = raw·scale + offset, per feature. */
export interface AffineNorm {
  readonly scale: readonly number[];
  readonly offset: readonly number[];
}

/** The contract's metadata, parsed and typed. */
export interface BacModelMetadata {
  readonly sampler: BacSamplerMetadata;
  /** Dataset keys concatenated (in this order) into the last axis of `cond`. */
  readonly obsKeys: readonly string[];
  /** T: action steps predicted per chunk. */
  readonly horizon: number;
  /** To: observation steps in `cond`. */
  readonly nObsSteps: number;
  /** Actions executed per chunk. */
  readonly nActionSteps: number;
  /** Observation (concatenated in `obsKeys` order) and action normalisers. */
  readonly normalizer: { readonly obs: AffineNorm; readonly action: AffineNorm };
}

/** One cacheable block of the model. */
export interface ModelBlock extends IdentifiedBlock {
  /** The graph output carrying it, `bac:<id>`. */
  readonly output: string;
  /** Per-call cost at batch 1 (FLOPs from the graph; timeUs 0). */
  readonly cost: Cost;
}

/** Everything BAC needs to know about a model file. */
export interface ModelInfo {
  /** Display name used in messages (file base name, or `model.onnx`). */
  readonly name: string;
  /** Lower-case hex sha256 of the file bytes (what `.bacschedule`/`.bacprofile` pin). */
  readonly sha256: string;
  /** File size in bytes. */
  readonly sizeBytes: number;
  /** ONNX IR version. */
  readonly irVersion: number;
  /** Default-domain opset. */
  readonly opset: number;
  /** `producer_name` (e.g. `pytorch`, `bac_export`). */
  readonly producer: string;
  /** Graph inputs that are not initializers, in order. */
  readonly inputs: readonly TensorInfo[];
  /** Graph outputs in order (the first is the prediction). */
  readonly outputs: readonly TensorInfo[];
  /** Name of the first output, the denoiser prediction. */
  readonly prediction: string;
  /** dtype of `timestep` as declared (`int64` or `float32`). */
  readonly timestepDtype: 'int64' | 'float32';
  /** Blocks in model order (layer ascending, then sa, ca, ffn). */
  readonly blocks: readonly ModelBlock[];
  /** Number of decoder layers (blocks / 3). */
  readonly layers: number;
  /** Declared shape of every block output, [B, T, d] (B usually symbolic). */
  readonly blockShape: readonly DimInfo[];
  /** The typed metadata. */
  readonly metadata: BacModelMetadata;
  /** All `metadata_props` as stored (strings), BAC's and others'. */
  readonly metadataProps: Readonly<Record<string, string>>;
  /** c_0: FLOPs of one call outside every block's exclusive set. */
  readonly baseCost: Cost;
  /** MatMul/Gemm nodes whose FLOPs could not be inferred (normally empty). */
  readonly flopsUnresolved: readonly string[];
}

/** A model that breaks the contract: every problem, one per line, in one user error. */
export class ModelContractError extends BacError {
  /** @param name file name used as prefix. @param problems each problem, one sentence. */
  constructor(
    readonly modelName: string,
    readonly problems: readonly string[],
  ) {
    super(
      problems.length === 1
        ? `${modelName}: ${problems[0]}`
        : `${modelName} does not follow the BAC model contract (${problems.length} problems):\n` +
            problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'ModelContractError';
  }
}

/** Options of {@link inspectModel}. */
export interface InspectOptions {
  /** Name used in messages; default: the file's base name, or `model.onnx` for bytes. */
  readonly name?: string;
}

/**
 * Reads and checks a model. `source` is a path or the file's bytes (not copied; do not mutate).
 * @throws BacError when the file cannot be read or is not ONNX; ModelContractError listing every
 *   contract problem. O(file size) for hashing and decoding, plus FLOPs inference O(nodes).
 */
export function inspectModel(source: Uint8Array | string, options: InspectOptions = {}): ModelInfo {
  let bytes: Uint8Array;
  let name = options.name ?? 'model.onnx';
  if (typeof source === 'string') {
    name = options.name ?? basename(source);
    try {
      bytes = readFileSync(source);
    } catch (e) {
      throw new BacError(`${name}: cannot read the model (${(e as Error).message}), expected an ONNX file`);
    }
  } else bytes = source;
  const model = decodeOrThrow(bytes, name);
  return describeModel(model, bytes, name);
}

/** Decodes ONNX bytes, turning protobuf errors into a user error naming the file. */
export function decodeOrThrow(bytes: Uint8Array, name: string): ModelProto {
  let model: ModelProto;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw new BacError(`${name}: is not an ONNX model (${(e as Error).message}), expected an ONNX ModelProto file`);
  }
  if (!model.graph || model.graph.node.length === 0) {
    throw new BacError(`${name}: is not an ONNX model (no graph), expected an ONNX ModelProto file`);
  }
  return model;
}

/** Lower-case hex sha256 of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function tensorInfo(vi: ValueInfo): TensorInfo {
  const tt = vi.type?.tensorType;
  return {
    name: vi.name ?? '',
    dtype: dataTypeName(tt?.elemType),
    shape: tt?.shape ? tt.shape.dim.map((d) => d.dimValue ?? d.dimParam ?? null) : null,
  };
}

const fmtShape = (s: readonly DimInfo[] | null): string =>
  s ? `[${s.map((d) => d ?? '?').join(', ')}]` : 'an undeclared shape';

/**
 * Builds {@link ModelInfo} from a decoded model and its bytes, checking the contract.
 * @throws ModelContractError listing every problem.
 */
export function describeModel(model: ModelProto, bytes: Uint8Array, name: string): ModelInfo {
  const graph = model.graph;
  if (!graph) throw new ModelContractError(name, ['has no graph']);
  const problems: string[] = [];
  const initNames = new Set(graph.initializer.map((t) => t.name));
  const inputs = graph.input.filter((i) => !initNames.has(i.name)).map(tensorInfo);
  const outputs = graph.output.map(tensorInfo);

  // --- inputs
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const expectIn = (n: string, dtypes: string[], rank: number, what: string): TensorInfo | undefined => {
    const i = byName.get(n);
    if (!i) {
      problems.push(`input "${n}" is missing, expected ${what}`);
      return undefined;
    }
    if (!dtypes.includes(i.dtype))
      problems.push(`input "${n}" is ${i.dtype}, expected ${dtypes.join(' or ')} (${what})`);
    if (i.shape && i.shape.length !== rank) {
      problems.push(`input "${n}" has rank ${i.shape.length} ${fmtShape(i.shape)}, expected ${what}`);
    }
    return i;
  };
  const sample = expectIn('sample', ['float32'], 3, 'float32 [B, T, Da] (the noisy action chunk)');
  const timestep = expectIn('timestep', ['int64', 'float32'], 1, 'int64 or float32 [B]');
  const cond = expectIn('cond', ['float32'], 3, 'float32 [B, To, Do] (the observation window)');
  for (const i of inputs) {
    if (!['sample', 'timestep', 'cond'].includes(i.name)) {
      problems.push(`input "${i.name}" is not part of the contract, expected exactly sample, timestep and cond`);
    }
  }

  // --- outputs: first = prediction, then bac:<id>
  const first = outputs[0];
  if (!first)
    problems.push('has no outputs, expected the denoiser prediction first, then the bac:<layer>.<kind> block outputs');
  else if (first.name.startsWith(BLOCK_OUTPUT_PREFIX)) {
    problems.push(
      `first output is "${first.name}", expected the denoiser prediction [B, T, Da] before the block outputs`,
    );
  } else {
    if (first.dtype !== 'float32')
      problems.push(`output "${first.name}" (the prediction) is ${first.dtype}, expected float32`);
    if (first.shape && sample?.shape && first.shape.length === 3 && sample.shape.length === 3) {
      for (const ax of [1, 2]) {
        const a = first.shape[ax];
        const b = sample.shape[ax];
        if (typeof a === 'number' && typeof b === 'number' && a !== b) {
          problems.push(
            `output "${first.name}" (the prediction) is ${fmtShape(first.shape)}, expected the shape of "sample" ${fmtShape(sample.shape)}`,
          );
          break;
        }
      }
    } else if (first.shape && first.shape.length !== 3) {
      problems.push(`output "${first.name}" (the prediction) has rank ${first.shape.length}, expected [B, T, Da]`);
    }
  }
  const found = new Map<BlockId, TensorInfo>();
  for (const o of outputs) {
    if (!o.name.startsWith(BLOCK_OUTPUT_PREFIX)) continue;
    const id = o.name.slice(BLOCK_OUTPUT_PREFIX.length);
    const ref = parseBlockId(id);
    if (!ref) {
      problems.push(`output "${o.name}" is not a block name, expected bac:<layer>.<sa|ca|ffn> such as "bac:0.sa"`);
      continue;
    }
    if (found.has(id)) problems.push(`output "${o.name}" appears twice, expected each block once`);
    found.set(id, o);
  }
  let layers = 0;
  if (found.size === 0) {
    problems.push(
      'has no block outputs, expected one graph output bac:<layer>.<kind> per residual branch (sa, ca, ffn of every decoder layer; export with python/bac_export.py)',
    );
  } else {
    layers = Math.max(...[...found.keys()].map((id) => (parseBlockId(id) as { layer: number }).layer)) + 1;
    for (let layer = 0; layer < layers; layer++) {
      for (const kind of BLOCK_KINDS) {
        const id = blockId({ layer, kind });
        if (!found.has(id)) {
          problems.push(
            `output "${BLOCK_OUTPUT_PREFIX}${id}" is missing (every decoder layer needs sa, ca and ffn; layers 0…${layers - 1} found)`,
          );
        }
      }
    }
  }
  const blockList = [...found.entries()]
    .map(([id, o]) => ({ ...(parseBlockId(id) as { layer: number; kind: BlockKind }), id, output: o.name, info: o }))
    .sort(compareBlocks);
  let blockShape: readonly DimInfo[] = [];
  for (const b of blockList) {
    if (b.info.dtype !== 'float32')
      problems.push(`output "${b.output}" is ${b.info.dtype}, expected float32 [B, T, d]`);
    if (b.info.shape && b.info.shape.length !== 3) {
      problems.push(`output "${b.output}" has rank ${b.info.shape.length}, expected [B, T, d]`);
    } else if (b.info.shape) {
      if (blockShape.length === 0) blockShape = b.info.shape;
      else if (
        b.info.shape.some(
          (d, i) => i > 0 && typeof d === 'number' && typeof blockShape[i] === 'number' && d !== blockShape[i],
        )
      ) {
        problems.push(
          `output "${b.output}" is ${fmtShape(b.info.shape)}, expected every block output to share one shape ${fmtShape(blockShape)}`,
        );
      }
    }
  }

  // --- metadata
  const props: Record<string, string> = {};
  for (const p of model.metadataProps) if (p.key !== undefined) props[p.key] = p.value ?? '';
  const metadata = parseMetadata(props, problems, {
    T: typeof sample?.shape?.[1] === 'number' ? sample.shape[1] : undefined,
    Da: typeof sample?.shape?.[2] === 'number' ? sample.shape[2] : undefined,
    To: typeof cond?.shape?.[1] === 'number' ? cond.shape[1] : undefined,
    Do: typeof cond?.shape?.[2] === 'number' ? cond.shape[2] : undefined,
  });

  // --- graph sanity: every block output must be computed by a node (not an input passed through)
  const produced = new Set(graph.node.flatMap((n) => n.output));
  for (const b of blockList)
    if (!produced.has(b.output))
      problems.push(`output "${b.output}" is not computed by any node, expected the branch output of a decoder layer`);

  if (problems.length > 0 || !metadata) throw new ModelContractError(name, problems);

  const flops = computeFlops(graph, blockList);
  return {
    name,
    sha256: sha256Hex(bytes),
    sizeBytes: bytes.length,
    irVersion: model.irVersion ?? 0,
    opset: defaultOpset(model) ?? 0,
    producer: model.producerName ?? '',
    inputs,
    outputs,
    prediction: (first as TensorInfo).name,
    timestepDtype: (timestep as TensorInfo).dtype === 'float32' ? 'float32' : 'int64',
    blocks: blockList.map((b, i) => ({
      id: b.id,
      layer: b.layer,
      kind: b.kind,
      output: b.output,
      cost: flops.blocks[i] as Cost,
    })),
    layers,
    blockShape,
    metadata,
    metadataProps: props,
    baseCost: flops.base,
    flopsUnresolved: flops.unresolved,
  };
}

const NORMALIZER_FORMAT = 'expected {obs:{scale,offset},action:{scale,offset}} with number arrays';
const SAMPLER_FORMAT =
  "expected {type, num_train_timesteps, beta_schedule, beta_start, beta_end, prediction_type, clip_sample, num_inference_steps} in diffusers' meaning";

/**
 * Parses the six `bac.*` metadata values, appending one problem per bad key. `dims` are the
 * declared input sizes used for consistency checks (undefined when symbolic).
 * Returns undefined when any key failed.
 */
export function parseMetadata(
  props: Readonly<Record<string, string>>,
  problems: string[],
  dims: { T?: number; Da?: number; To?: number; Do?: number } = {},
): BacModelMetadata | undefined {
  const before = problems.length;
  const json = (key: string, expected: string): unknown => {
    const text = props[key];
    if (text === undefined) {
      problems.push(`metadata "${key}" is missing, ${expected}`);
      return undefined;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      problems.push(`metadata "${key}" is not valid JSON: ${(e as Error).message}, ${expected}`);
      return undefined;
    }
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const posInt = (key: string, expected: string): number | undefined => {
    const v = json(key, expected);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      problems.push(`metadata "${key}" is ${JSON.stringify(v)}, ${expected}`);
      return undefined;
    }
    return v;
  };

  // sampler
  let sampler: BacSamplerMetadata | undefined;
  const s = json('bac.sampler', SAMPLER_FORMAT);
  if (s !== undefined) {
    if (!isObj(s)) problems.push(`metadata "bac.sampler" is ${JSON.stringify(s)}, ${SAMPLER_FORMAT}`);
    else {
      const bad: string[] = [];
      const str = (k: string): string =>
        typeof s[k] === 'string' ? (s[k] as string) : (bad.push(`${k} (a string)`), '');
      const num = (k: string): number =>
        typeof s[k] === 'number' && Number.isFinite(s[k]) ? (s[k] as number) : (bad.push(`${k} (a number)`), 0);
      const int = (k: string): number =>
        typeof s[k] === 'number' && Number.isInteger(s[k]) && (s[k] as number) >= 1
          ? (s[k] as number)
          : (bad.push(`${k} (an integer ≥ 1)`), 0);
      const bool = (k: string): boolean =>
        typeof s[k] === 'boolean' ? (s[k] as boolean) : (bad.push(`${k} (true or false)`), false);
      const candidate: BacSamplerMetadata = {
        type: str('type').toLowerCase(),
        numTrainTimesteps: int('num_train_timesteps'),
        betaSchedule: str('beta_schedule'),
        betaStart: num('beta_start'),
        betaEnd: num('beta_end'),
        predictionType: str('prediction_type'),
        clipSample: bool('clip_sample'),
        numInferenceSteps: int('num_inference_steps'),
        raw: s,
      };
      if (bad.length > 0)
        problems.push(`metadata "bac.sampler" lacks or mistypes ${bad.join(', ')}, ${SAMPLER_FORMAT}`);
      else sampler = candidate;
    }
  }

  // obs keys
  let obsKeys: string[] | undefined;
  const ok = json('bac.obs_keys', 'expected a non-empty JSON array of dataset key strings');
  if (ok !== undefined) {
    if (!Array.isArray(ok) || ok.length === 0 || !ok.every((k) => typeof k === 'string' && k.length > 0)) {
      problems.push(
        `metadata "bac.obs_keys" is ${JSON.stringify(ok)}, expected a non-empty JSON array of dataset key strings`,
      );
    } else obsKeys = ok as string[];
  }

  const horizon = posInt('bac.horizon', 'expected a positive integer (T, the action steps per chunk)');
  const nObs = posInt('bac.n_obs_steps', 'expected a positive integer (To, the observation steps in cond)');
  const nAct = posInt('bac.n_action_steps', 'expected a positive integer ≤ bac.horizon');
  if (horizon !== undefined && dims.T !== undefined && horizon !== dims.T) {
    problems.push(`metadata "bac.horizon" is ${horizon}, expected ${dims.T} (the T axis of input "sample")`);
  }
  if (nObs !== undefined && dims.To !== undefined && nObs !== dims.To) {
    problems.push(`metadata "bac.n_obs_steps" is ${nObs}, expected ${dims.To} (the To axis of input "cond")`);
  }
  if (nAct !== undefined && horizon !== undefined && nAct > horizon) {
    problems.push(`metadata "bac.n_action_steps" is ${nAct}, expected at most bac.horizon = ${horizon}`);
  }

  // normalizer
  let normalizer: BacModelMetadata['normalizer'] | undefined;
  const n = json('bac.normalizer', NORMALIZER_FORMAT);
  if (n !== undefined) {
    const bad: string[] = [];
    const affine = (part: 'obs' | 'action', len: number | undefined): AffineNorm | undefined => {
      const p = isObj(n) ? n[part] : undefined;
      if (!isObj(p)) {
        bad.push(`${part} is missing`);
        return undefined;
      }
      const arr = (k: 'scale' | 'offset'): number[] | undefined => {
        const v = p[k];
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
          bad.push(`${part}.${k} is ${v === undefined ? 'missing' : 'not an array of numbers'}`);
          return undefined;
        }
        if (len !== undefined && v.length !== len) bad.push(`${part}.${k} has ${v.length} entries instead of ${len}`);
        return v as number[];
      };
      const scale = arr('scale');
      const offset = arr('offset');
      return scale && offset ? { scale, offset } : undefined;
    };
    const obs = affine('obs', dims.Do);
    const action = affine('action', dims.Da);
    if (bad.length > 0) problems.push(`metadata "bac.normalizer": ${bad.join('; ')}, ${NORMALIZER_FORMAT}`);
    else if (obs && action) normalizer = { obs, action };
  }

  if (problems.length > before || !sampler || !obsKeys || !horizon || !nObs || !nAct || !normalizer) return undefined;
  return { sampler, obsKeys, horizon, nObsSteps: nObs, nActionSteps: nAct, normalizer };
}
