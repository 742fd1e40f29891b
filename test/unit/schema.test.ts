import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseSchedule, serializeSchedule } from '../../src/core/schedule-format';
import { subschemaAt, validateJsonSchema } from './helpers/json-schema-lite';
import { randomSchedule } from './helpers/random-schedule';

// Parsed JSON documents are mutated freely in these tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const root = join(__dirname, '..', '..');
const schema = JSON.parse(readFileSync(join(root, 'schemas', 'bacschedule.schema.json'), 'utf8'));

/** A valid document as JSON, edited. */
function doc(edit: (d: Json) => void = () => undefined, seed = 11): string {
  const d = JSON.parse(serializeSchedule(randomSchedule(seed)));
  edit(d);
  return JSON.stringify(d, null, 2);
}

describe('bacschedule.schema.json', () => {
  it('is the file package.json contributes through jsonValidation, as draft-07', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const entry = pkg.contributes.jsonValidation.find((j: Json) => j.fileMatch === '*.bacschedule');
    assert.equal(entry?.url, './schemas/bacschedule.schema.json');
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  });

  it('accepts what the serialiser writes, like the parser (50 fuzzed schedules)', () => {
    for (let seed = 0; seed < 50; seed++) {
      const text = doc(undefined, seed);
      assert.ok(parseSchedule(text).ok, `seed ${seed}`);
      assert.deepEqual(validateJsonSchema(schema, JSON.parse(text)), [], `seed ${seed}`);
    }
  });

  it('describes every property the serialiser writes', () => {
    const walk = (v: unknown, path: (string | number)[]): void => {
      if (path.length > 0) assert.ok(subschemaAt(schema, path), `schema lacks ${path.join('.')}`);
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    };
    for (const seed of [1, 2, 3]) walk(JSON.parse(doc(undefined, seed)), []);
    // Every top-level field carries a description for editor hovers.
    const d = JSON.parse(doc());
    for (const key of Object.keys(d)) assert.ok(schema.properties[key].description, key);
  });

  const invalid: [string, (d: Json) => void][] = [
    ['wrong format', (d) => (d.format = 'other')],
    ['unknown version', (d) => (d.version = 2)],
    ['missing model', (d) => delete d.model],
    ['unknown root key', (d) => (d.extra = 1)],
    ['unknown block key', (d) => (d.blocks[0].extra = 1)],
    ['negative step', (d) => d.blocks[0].acs.push(-1)],
    ['fractional step', (d) => (d.blocks[0].bua = [1.5])],
    ['duplicate step', (d) => (d.blocks[0].manual = [3, 3])],
    ['step as string', (d) => (d.blocks[0].acs = ['0'])],
    ['bad block id', (d) => (d.blocks[0].id = '0.mlp')],
    ['bad sha256', (d) => (d.model.sha256 = 'ABC')],
    ['budget 0', (d) => (d.solver.budget = 0)],
    ['K as string', (d) => (d.sampler.steps = '100')],
    ['profile as string', (d) => (d.solver.profile = 'p.bacprofile')],
    ['no blocks', (d) => (d.blocks = [])],
    ['summary missing', (d) => delete d.summary],
    ['negative time', (d) => (d.baseCost.timeUs = -1)],
    ['forceLast as string', (d) => (d.solver.forceLast = 'true')],
  ];
  for (const [name, edit] of invalid) {
    it(`rejects ${name}, like the parser`, () => {
      const text = doc(edit);
      assert.equal(parseSchedule(text).ok, false, 'parser');
      assert.notDeepEqual(validateJsonSchema(schema, JSON.parse(text)), [], 'schema');
    });
  }

  it('leaves cross-field rules to the parser (the schema cannot express them)', () => {
    // Documented limits: step ≤ K−1, strict order, disjoint origins, step 0 present, model order.
    for (const edit of [
      (d: Json) => (d.blocks[0].acs = [0, d.sampler.steps + 5]),
      (d: Json) => (d.blocks[0].acs = [0, 5, 3]),
      (d: Json) => ([d.blocks[0], d.blocks[1]] = [d.blocks[1], d.blocks[0]]),
    ]) {
      const text = doc(edit, 4);
      assert.equal(parseSchedule(text).ok, false);
      assert.deepEqual(validateJsonSchema(schema, JSON.parse(text)), []);
    }
  });
});
