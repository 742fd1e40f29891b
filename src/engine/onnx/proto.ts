/**
 * A small, dependency-free protobuf codec for the subset of `onnx.proto` that BAC needs to read,
 * check and rewrite models: ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
 * ValueInfoProto, TypeProto and their small helpers.
 *
 * Why hand-written: the npm options are either old (`onnx-proto` = onnx 1.10 schema, protobufjs 6)
 * or ESM-only (`onnx-buf`), and a generic protobuf runtime would drop or reorder fields it does not
 * know. Here every message keeps the fields this file does not model in `$unknown`, as raw
 * (field number, wire type, bytes) triples, and writes them back verbatim, so decode → encode is
 * lossless for any ONNX version (newer fields such as `metadata_props` on nodes survive). Known
 * fields are re-emitted in field-number order; presence is preserved (a proto2 field that was
 * present with its default value is written back).
 *
 * Large payloads (`TensorProto.raw_data`) are decoded as views into the input buffer (no copy), so
 * the input bytes must not be mutated while a decoded model is alive.
 *
 * One idea, longer than 500 lines: the message types, their field tables, the codec and the small
 * constructors for new nodes and tensors all describe the same schema, and splitting them would
 * put one protobuf message's definition in several files.
 */

/** A field this codec does not model, kept verbatim (payload without its tag). */
export interface RawField {
  /** Protobuf field number. */
  readonly no: number;
  /** Wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32. */
  readonly wt: number;
  /** The encoded payload as it appeared (varint bytes, 8/4 bytes, or the delimited contents). */
  readonly bytes: Uint8Array;
}

/** Fields common to every decoded message: the unmodelled ones, re-emitted on encode. */
export interface Unknowns {
  /** Unmodelled fields in input order; undefined when there were none. */
  $unknown?: RawField[];
}

/** `StringStringEntryProto`: metadata key/value pairs. */
export interface StringStringEntry extends Unknowns {
  key?: string;
  value?: string;
}

/** `OperatorSetIdProto`: an opset import. `domain` '' (or absent) = the default ONNX domain. */
export interface OperatorSetId extends Unknowns {
  domain?: string;
  version?: number;
}

/** `TensorShapeProto.Dimension`: a fixed size or a symbolic name. */
export interface Dim extends Unknowns {
  dimValue?: number;
  dimParam?: string;
  denotation?: string;
}

/** `TensorShapeProto`. */
export interface TensorShape extends Unknowns {
  dim: Dim[];
}

/** `TypeProto.Tensor`. */
export interface TensorTypeProto extends Unknowns {
  /** `TensorProto.DataType` value (1 float, 7 int64, 9 bool …). */
  elemType?: number;
  shape?: TensorShape;
}

/** `TypeProto`; only tensor types are modelled (sequences, maps … stay in `$unknown`). */
export interface TypeProto extends Unknowns {
  tensorType?: TensorTypeProto;
  denotation?: string;
}

/** `ValueInfoProto`: a named, typed value (graph input, output, or intermediate annotation). */
export interface ValueInfo extends Unknowns {
  name?: string;
  type?: TypeProto;
  docString?: string;
}

/** `TensorProto`: a constant tensor (initializer, Constant value, attribute tensor). */
export interface TensorProto extends Unknowns {
  /** Dimensions (int64 in the schema; sizes are far below 2^53). */
  dims: number[];
  /** `TensorProto.DataType`. */
  dataType?: number;
  floatData: number[];
  int32Data: number[];
  stringData: Uint8Array[];
  int64Data: bigint[];
  name?: string;
  docString?: string;
  /** Little-endian packed elements; a view into the decoded buffer. */
  rawData?: Uint8Array;
  externalData: StringStringEntry[];
  dataLocation?: number;
  doubleData: number[];
  uint64Data: bigint[];
}

/** `AttributeProto`. int64 values are bigint because e.g. Slice bounds use INT64_MAX. */
export interface AttributeProto extends Unknowns {
  name?: string;
  refAttrName?: string;
  docString?: string;
  /** `AttributeProto.AttributeType`: 1 FLOAT, 2 INT, 3 STRING, 4 TENSOR, 5 GRAPH, 6 FLOATS, 7 INTS … */
  type?: number;
  f?: number;
  i?: bigint;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats: number[];
  ints: bigint[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
}

/** `NodeProto`. */
export interface NodeProto extends Unknowns {
  input: string[];
  output: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute: AttributeProto[];
  docString?: string;
}

/** `GraphProto`. */
export interface GraphProto extends Unknowns {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  docString?: string;
  input: ValueInfo[];
  output: ValueInfo[];
  valueInfo: ValueInfo[];
}

/** `ModelProto`. */
export interface ModelProto extends Unknowns {
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph?: GraphProto;
  opsetImport: OperatorSetId[];
  metadataProps: StringStringEntry[];
}

/** `AttributeProto.AttributeType` values used by BAC. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

/** `TensorProto.DataType` values. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

/** Lower-case names of `TensorProto.DataType` values, as ORT's `Tensor.type` spells most of them. */
export function dataTypeName(t: number | undefined): string {
  const names: Record<number, string> = {
    1: 'float32',
    2: 'uint8',
    3: 'int8',
    4: 'uint16',
    5: 'int16',
    6: 'int32',
    7: 'int64',
    8: 'string',
    9: 'bool',
    10: 'float16',
    11: 'float64',
    12: 'uint32',
    13: 'uint64',
    14: 'complex64',
    15: 'complex128',
    16: 'bfloat16',
  };
  return t === undefined ? 'undefined' : (names[t] ?? `dtype(${t})`);
}

// ---------------------------------------------------------------------------------------------
// Schema: one table per message. `kind` decides how a field is decoded and encoded.

type Kind =
  | 'string'
  | 'bytes'
  | 'num64' // int64 as number (sizes, versions; exact below 2^53)
  | 'big64' // int64 as bigint (attribute values, tensor data)
  | 'ubig64' // uint64 as bigint
  | 'int32' // int32 / enum (varint, sign-extended)
  | 'float' // fixed32
  | 'double' // fixed64
  | Schema;

interface FieldSpec {
  readonly no: number;
  readonly key: string;
  readonly kind: Kind;
  readonly repeated?: boolean;
  /** Encode repeated scalars packed (onnx.proto declares `[packed = true]` on tensor data). */
  readonly packed?: boolean;
}

interface Schema {
  readonly name: string;
  readonly fields: FieldSpec[];
  /** Built lazily: field number → spec. */
  byNo?: Map<number, FieldSpec>;
}

const S = (name: string, fields: FieldSpec[]): Schema => ({ name, fields: [...fields].sort((a, b) => a.no - b.no) });

const ENTRY = S('StringStringEntryProto', [
  { no: 1, key: 'key', kind: 'string' },
  { no: 2, key: 'value', kind: 'string' },
]);
const OPSET = S('OperatorSetIdProto', [
  { no: 1, key: 'domain', kind: 'string' },
  { no: 2, key: 'version', kind: 'num64' },
]);
const DIM = S('Dimension', [
  { no: 1, key: 'dimValue', kind: 'num64' },
  { no: 2, key: 'dimParam', kind: 'string' },
  { no: 3, key: 'denotation', kind: 'string' },
]);
const SHAPE = S('TensorShapeProto', [{ no: 1, key: 'dim', kind: DIM, repeated: true }]);
const TENSOR_TYPE = S('TypeProto.Tensor', [
  { no: 1, key: 'elemType', kind: 'int32' },
  { no: 2, key: 'shape', kind: SHAPE },
]);
const TYPE = S('TypeProto', [
  { no: 1, key: 'tensorType', kind: TENSOR_TYPE },
  { no: 6, key: 'denotation', kind: 'string' },
]);
const VALUE_INFO = S('ValueInfoProto', [
  { no: 1, key: 'name', kind: 'string' },
  { no: 2, key: 'type', kind: TYPE },
  { no: 3, key: 'docString', kind: 'string' },
]);
const TENSOR = S('TensorProto', [
  { no: 1, key: 'dims', kind: 'num64', repeated: true },
  { no: 2, key: 'dataType', kind: 'int32' },
  { no: 4, key: 'floatData', kind: 'float', repeated: true, packed: true },
  { no: 5, key: 'int32Data', kind: 'int32', repeated: true, packed: true },
  { no: 6, key: 'stringData', kind: 'bytes', repeated: true },
  { no: 7, key: 'int64Data', kind: 'big64', repeated: true, packed: true },
  { no: 8, key: 'name', kind: 'string' },
  { no: 12, key: 'docString', kind: 'string' },
  { no: 9, key: 'rawData', kind: 'bytes' },
  { no: 13, key: 'externalData', kind: ENTRY, repeated: true },
  { no: 14, key: 'dataLocation', kind: 'int32' },
  { no: 10, key: 'doubleData', kind: 'double', repeated: true, packed: true },
  { no: 11, key: 'uint64Data', kind: 'ubig64', repeated: true, packed: true },
]);
// GraphProto and AttributeProto are mutually recursive: declare, then fill.
const GRAPH: Schema = { name: 'GraphProto', fields: [] };
const ATTRIBUTE = S('AttributeProto', [
  { no: 1, key: 'name', kind: 'string' },
  { no: 21, key: 'refAttrName', kind: 'string' },
  { no: 13, key: 'docString', kind: 'string' },
  { no: 20, key: 'type', kind: 'int32' },
  { no: 2, key: 'f', kind: 'float' },
  { no: 3, key: 'i', kind: 'big64' },
  { no: 4, key: 's', kind: 'bytes' },
  { no: 5, key: 't', kind: TENSOR },
  { no: 6, key: 'g', kind: GRAPH },
  { no: 7, key: 'floats', kind: 'float', repeated: true },
  { no: 8, key: 'ints', kind: 'big64', repeated: true },
  { no: 9, key: 'strings', kind: 'bytes', repeated: true },
  { no: 10, key: 'tensors', kind: TENSOR, repeated: true },
  { no: 11, key: 'graphs', kind: GRAPH, repeated: true },
]);
const NODE = S('NodeProto', [
  { no: 1, key: 'input', kind: 'string', repeated: true },
  { no: 2, key: 'output', kind: 'string', repeated: true },
  { no: 3, key: 'name', kind: 'string' },
  { no: 4, key: 'opType', kind: 'string' },
  { no: 7, key: 'domain', kind: 'string' },
  { no: 5, key: 'attribute', kind: ATTRIBUTE, repeated: true },
  { no: 6, key: 'docString', kind: 'string' },
]);
GRAPH.fields.push(
  ...(
    [
      { no: 1, key: 'node', kind: NODE, repeated: true },
      { no: 2, key: 'name', kind: 'string' },
      { no: 5, key: 'initializer', kind: TENSOR, repeated: true },
      { no: 10, key: 'docString', kind: 'string' },
      { no: 11, key: 'input', kind: VALUE_INFO, repeated: true },
      { no: 12, key: 'output', kind: VALUE_INFO, repeated: true },
      { no: 13, key: 'valueInfo', kind: VALUE_INFO, repeated: true },
    ] as FieldSpec[]
  ).sort((a, b) => a.no - b.no),
);
const MODEL = S('ModelProto', [
  { no: 1, key: 'irVersion', kind: 'num64' },
  { no: 8, key: 'opsetImport', kind: OPSET, repeated: true },
  { no: 2, key: 'producerName', kind: 'string' },
  { no: 3, key: 'producerVersion', kind: 'string' },
  { no: 4, key: 'domain', kind: 'string' },
  { no: 5, key: 'modelVersion', kind: 'num64' },
  { no: 6, key: 'docString', kind: 'string' },
  { no: 7, key: 'graph', kind: GRAPH },
  { no: 14, key: 'metadataProps', kind: ENTRY, repeated: true },
]);

// ---------------------------------------------------------------------------------------------
// Decoding

/** Thrown for bytes that are not a well-formed protobuf message of the expected schema. */
export class ProtoDecodeError extends Error {
  /** @param message what is malformed. */
  constructor(message: string) {
    super(message);
    this.name = 'ProtoDecodeError';
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });
const utf8Encoder = new TextEncoder();

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /**
   * Moves past one varint (at most 10 bytes) and returns where it starts; its bytes are then
   * `buf[start … pos)`, least significant group first.
   */
  private varintStart(): number {
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoDecodeError('truncated varint');
      if (((this.buf[this.pos++] as number) & 0x80) === 0) return start;
    }
    throw new ProtoDecodeError('varint longer than 10 bytes');
  }

  /** Varint as bigint (exact for the full 64 bits). */
  varintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let p = this.varintStart(); p < this.pos; p++, shift += 7n)
      result |= BigInt((this.buf[p] as number) & 0x7f) << shift;
    return BigInt.asUintN(64, result);
  }

  /** Varint as a non-negative JS number (tags, lengths); fast path without bigint. */
  varintNum(): number {
    let result = 0;
    let mul = 1;
    for (let p = this.varintStart(); p < this.pos; p++, mul *= 128) result += ((this.buf[p] as number) & 0x7f) * mul;
    return result;
  }

  /** Skips one value of wire type `wt`, returning its payload bounds. */
  skip(wt: number): [number, number] {
    const start = this.pos;
    switch (wt) {
      case 0:
        this.varintNum();
        return [start, this.pos];
      case 1:
        this.advance(8);
        return [start, this.pos];
      case 5:
        this.advance(4);
        return [start, this.pos];
      case 2: {
        const len = this.varintNum();
        const s = this.pos;
        this.advance(len);
        return [s, this.pos];
      }
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wt}`);
    }
  }

  advance(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw new ProtoDecodeError('truncated message');
    this.pos += n;
  }
}

const dv = (buf: Uint8Array): DataView => new DataView(buf.buffer, buf.byteOffset, buf.byteLength);

function specOf(schema: Schema, no: number): FieldSpec | undefined {
  if (!schema.byNo) schema.byNo = new Map(schema.fields.map((f) => [f.no, f]));
  return schema.byNo.get(no);
}

function scalarFromVarint(kind: Kind, v: bigint): number | bigint {
  switch (kind) {
    case 'num64':
      return Number(BigInt.asIntN(64, v));
    case 'big64':
      return BigInt.asIntN(64, v);
    case 'ubig64':
      return v;
    case 'int32':
      return Number(BigInt.asIntN(32, v));
    default:
      throw new ProtoDecodeError(`field of kind ${String(kind)} cannot be a varint`);
  }
}

function readScalar(r: Reader, kind: Kind, wt: number): unknown {
  if (typeof kind !== 'string') throw new ProtoDecodeError('message where a scalar was expected');
  if (kind === 'float') {
    if (wt !== 5) throw new ProtoDecodeError(`float with wire type ${wt}`);
    const p = r.pos;
    r.advance(4);
    return dv(r.buf).getFloat32(p, true);
  }
  if (kind === 'double') {
    if (wt !== 1) throw new ProtoDecodeError(`double with wire type ${wt}`);
    const p = r.pos;
    r.advance(8);
    return dv(r.buf).getFloat64(p, true);
  }
  if (kind === 'string' || kind === 'bytes') {
    if (wt !== 2) throw new ProtoDecodeError(`${kind} with wire type ${wt}`);
    const [s, e] = r.skip(2);
    const view = r.buf.subarray(s, e);
    return kind === 'string' ? utf8Decoder.decode(view) : view;
  }
  if (wt !== 0) throw new ProtoDecodeError(`${kind} with wire type ${wt}`);
  if (kind === 'num64' || kind === 'int32') {
    // fast path without bigint for the common small non-negative values (sizes, enums, versions)
    const start = r.pos;
    const v = r.varintNum();
    if (v <= 0x7fffffff) return v;
    r.pos = start;
  }
  return scalarFromVarint(kind, r.varintBig());
}

function decodeMessage(buf: Uint8Array, start: number, end: number, schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of schema.fields) if (f.repeated) out[f.key] = [];
  const r = new Reader(buf, start, end);
  while (r.pos < end) {
    const tag = r.varintNum();
    const no = Math.floor(tag / 8);
    const wt = tag & 7;
    if (no === 0) throw new ProtoDecodeError(`field number 0 in ${schema.name}`);
    const spec = specOf(schema, no);
    if (!spec) {
      const [s, e] = r.skip(wt);
      const unknown = (out.$unknown ??= []) as RawField[];
      unknown.push({ no, wt, bytes: buf.subarray(s, e) });
      continue;
    }
    const kind = spec.kind;
    if (typeof kind !== 'string') {
      if (wt !== 2) throw new ProtoDecodeError(`${schema.name}.${spec.key}: message with wire type ${wt}`);
      const [s, e] = r.skip(2);
      const msg = decodeMessage(buf, s, e, kind);
      if (spec.repeated) (out[spec.key] as unknown[]).push(msg);
      else out[spec.key] = msg; // proto semantics would merge; ONNX writers never split a message
      continue;
    }
    if (spec.repeated) {
      const list = out[spec.key] as unknown[];
      if (wt === 2 && kind !== 'string' && kind !== 'bytes') {
        // packed repeated scalars
        const [s, e] = r.skip(2);
        const sub = new Reader(buf, s, e);
        const elemWt = kind === 'float' ? 5 : kind === 'double' ? 1 : 0;
        while (sub.pos < e) list.push(readScalar(sub, kind, elemWt));
      } else {
        list.push(readScalar(r, kind, wt));
      }
    } else {
      out[spec.key] = readScalar(r, kind, wt);
    }
  }
  return out;
}

/**
 * Decodes an ONNX `ModelProto`. O(size of the input); tensors' `rawData` are views into `bytes`.
 * @throws ProtoDecodeError when the bytes are not a well-formed ModelProto.
 */
export function decodeModel(bytes: Uint8Array): ModelProto {
  return decodeMessage(bytes, 0, bytes.length, MODEL) as unknown as ModelProto;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * Encoding is two-pass: sizes of all nested messages first (cached per message object), then one
 * write into an exactly sized buffer. Nested length-delimited messages therefore cost no copies,
 * which matters for models whose initializers hold tens of megabytes.
 */
class Writer {
  readonly buf: Uint8Array;
  private readonly view: DataView;
  len = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = dv(this.buf);
  }

  varint(v: number | bigint): void {
    const buf = this.buf;
    if (typeof v === 'number' && v >= 0 && v <= 0x7fffffff) {
      while (v > 0x7f) {
        buf[this.len++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.len++] = v;
      return;
    }
    // negative values are written as their 64-bit two's complement (10 bytes), as protobuf does
    let b = BigInt.asUintN(64, BigInt(v));
    while (b > 0x7fn) {
      buf[this.len++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    buf[this.len++] = Number(b);
  }

  tag(no: number, wt: number): void {
    this.varint(no * 8 + wt);
  }

  bytes(b: Uint8Array): void {
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  string(s: string, byteLength: number): void {
    this.varint(byteLength);
    const r = utf8Encoder.encodeInto(s, this.buf.subarray(this.len, this.len + byteLength));
    if (r.written !== byteLength) throw new Error('UTF-8 length mismatch while encoding');
    this.len += byteLength;
  }

  float(v: number): void {
    this.view.setFloat32(this.len, v, true);
    this.len += 4;
  }

  double(v: number): void {
    this.view.setFloat64(this.len, v, true);
    this.len += 8;
  }
}

/** Bytes of a varint (negative numbers take 10, as protobuf writes int64 two's complement). */
function varintSize(v: number | bigint): number {
  if (typeof v === 'number' && v >= 0 && v <= 0x7fffffff) {
    return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
  }
  let b = BigInt.asUintN(64, BigInt(v));
  let n = 1;
  while (b > 0x7fn) {
    b >>= 7n;
    n++;
  }
  return n;
}

/** UTF-8 byte length of a JS string (lone surrogates count as U+FFFD, as TextEncoder writes them). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function scalarSize(kind: Kind, v: unknown): number {
  switch (kind) {
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'string': {
      const n = utf8Length(v as string);
      return varintSize(n) + n;
    }
    case 'bytes': {
      const n = (v as Uint8Array).length;
      return varintSize(n) + n;
    }
    default:
      return varintSize(v as number | bigint);
  }
}

function writeScalar(w: Writer, kind: Kind, v: unknown): void {
  switch (kind) {
    case 'float':
      w.float(v as number);
      return;
    case 'double':
      w.double(v as number);
      return;
    case 'string':
      w.string(v as string, utf8Length(v as string));
      return;
    case 'bytes':
      w.varint((v as Uint8Array).length);
      w.bytes(v as Uint8Array);
      return;
    default:
      w.varint(v as number | bigint);
  }
}

function wireTypeOf(kind: Kind): number {
  if (typeof kind !== 'string' || kind === 'string' || kind === 'bytes') return 2;
  if (kind === 'float') return 5;
  if (kind === 'double') return 1;
  return 0;
}

/** Payload size of a packed repeated scalar field. */
function packedSize(kind: Kind, values: readonly unknown[]): number {
  if (kind === 'float') return 4 * values.length;
  if (kind === 'double') return 8 * values.length;
  let n = 0;
  for (const x of values) n += scalarSize(kind, x);
  return n;
}

/** The values of field `f` in `msg` (one for a singular field); undefined when it is not written (absent, or repeated and empty). */
function presentValues(msg: Record<string, unknown>, f: FieldSpec): readonly unknown[] | undefined {
  const v = msg[f.key];
  if (v === undefined || v === null) return undefined;
  const values = f.repeated ? (v as unknown[]) : [v];
  return f.repeated && values.length === 0 ? undefined : values;
}

/** Encoded size of a message body (without its own tag and length); cached in `sizes`. */
function messageSize(msg: Record<string, unknown>, schema: Schema, sizes: Map<object, number>): number {
  const cached = sizes.get(msg);
  if (cached !== undefined) return cached;
  let n = 0;
  for (const f of schema.fields) {
    const values = presentValues(msg, f);
    if (!values) continue;
    const kind = f.kind;
    const tagSize = varintSize(f.no * 8);
    if (typeof kind !== 'string') {
      for (const m of values) {
        const len = messageSize(m as Record<string, unknown>, kind, sizes);
        n += tagSize + varintSize(len) + len;
      }
    } else if (f.repeated && f.packed) {
      const len = packedSize(kind, values);
      n += tagSize + varintSize(len) + len;
    } else {
      for (const x of values) n += tagSize + scalarSize(kind, x);
    }
  }
  const unknown = msg.$unknown as RawField[] | undefined;
  if (unknown) {
    for (const u of unknown)
      n += varintSize(u.no * 8 + u.wt) + (u.wt === 2 ? varintSize(u.bytes.length) : 0) + u.bytes.length;
  }
  sizes.set(msg, n);
  return n;
}

function encodeInto(w: Writer, msg: Record<string, unknown>, schema: Schema, sizes: Map<object, number>): void {
  for (const f of schema.fields) {
    const values = presentValues(msg, f);
    if (!values) continue;
    const kind = f.kind;
    if (typeof kind !== 'string') {
      for (const m of values) {
        w.tag(f.no, 2);
        w.varint(messageSize(m as Record<string, unknown>, kind, sizes));
        encodeInto(w, m as Record<string, unknown>, kind, sizes);
      }
    } else if (f.repeated && f.packed) {
      w.tag(f.no, 2);
      w.varint(packedSize(kind, values));
      for (const x of values) writeScalar(w, kind, x);
    } else {
      const wt = wireTypeOf(kind);
      for (const x of values) {
        w.tag(f.no, wt);
        writeScalar(w, kind, x);
      }
    }
  }
  const unknown = msg.$unknown as RawField[] | undefined;
  if (unknown) {
    for (const u of unknown) {
      w.tag(u.no, u.wt);
      if (u.wt === 2) w.varint(u.bytes.length);
      w.bytes(u.bytes);
    }
  }
}

/**
 * Encodes a `ModelProto`. Known fields in field-number order, then unknown fields verbatim.
 * Two passes (sizes, then one write into an exactly sized buffer): O(size of the output), no
 * copies of nested messages. A message object shared by several parents is encoded at each place.
 */
export function encodeModel(model: ModelProto): Uint8Array {
  const sizes = new Map<object, number>();
  const msg = model as unknown as Record<string, unknown>;
  const w = new Writer(messageSize(msg, MODEL, sizes));
  encodeInto(w, msg, MODEL, sizes);
  if (w.len !== w.buf.length) throw new Error(`encoder wrote ${w.len} bytes, expected ${w.buf.length}`);
  return w.buf;
}

// ---------------------------------------------------------------------------------------------
// Constructors for new messages (all repeated fields present, as decode produces them)

/** A new empty NodeProto with the given op, inputs, outputs and attributes. */
export function makeNode(
  opType: string,
  input: string[],
  output: string[],
  name: string,
  attribute: AttributeProto[] = [],
): NodeProto {
  return { input, output, name, opType, attribute };
}

/** A new empty AttributeProto (all repeated fields empty). */
function emptyAttr(name: string, type: number): AttributeProto {
  return { name, type, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
}

/** INT attribute. */
export function attrInt(name: string, v: number | bigint): AttributeProto {
  return { ...emptyAttr(name, AttrType.INT), i: BigInt(v) };
}

/** INTS attribute. */
export function attrInts(name: string, v: readonly (number | bigint)[]): AttributeProto {
  return { ...emptyAttr(name, AttrType.INTS), ints: v.map((x) => BigInt(x)) };
}

/** GRAPH attribute. */
export function attrGraph(name: string, g: GraphProto): AttributeProto {
  return { ...emptyAttr(name, AttrType.GRAPH), g };
}

/** A new TensorProto holding `raw` little-endian bytes. */
export function makeTensor(name: string, dataType: number, dims: readonly number[], raw: Uint8Array): TensorProto {
  return {
    name,
    dataType,
    dims: [...dims],
    rawData: raw,
    floatData: [],
    int32Data: [],
    stringData: [],
    int64Data: [],
    externalData: [],
    doubleData: [],
    uint64Data: [],
  };
}

/** An int64 tensor. */
export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  const a = BigInt64Array.from(values.map((v) => BigInt(v)));
  return makeTensor(name, DataType.INT64, dims, new Uint8Array(a.buffer));
}

/** A bool tensor (one byte per element). */
export function boolTensor(name: string, dims: readonly number[], values: ArrayLike<number | boolean>): TensorProto {
  const raw = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) raw[i] = values[i] ? 1 : 0;
  return makeTensor(name, DataType.BOOL, dims, raw);
}

/** A ValueInfoProto for a tensor; `dims` entries are sizes or symbolic names; null = unknown rank. */
export function tensorValueInfo(name: string, elemType: number, dims: readonly (number | string)[] | null): ValueInfo {
  const tensorType: TensorTypeProto = { elemType };
  if (dims) {
    tensorType.shape = { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  }
  return { name, type: { tensorType } };
}

/** A new empty GraphProto. */
export function makeGraph(name: string): GraphProto {
  return { node: [], name, initializer: [], input: [], output: [], valueInfo: [] };
}

/** The default-domain (`ai.onnx`) opset version a model imports; undefined when it imports none. */
export function defaultOpset(model: ModelProto): number | undefined {
  return model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version;
}
