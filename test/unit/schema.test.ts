import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { contractNode } from '../../src/core/contract';
import { parseSchedule, serializeSchedule } from '../../src/core/schedule-format';
import { randomSchedule } from './helpers/random-schedule';

// Parsed JSON documents are walked freely in these tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const root = join(__dirname, '..', '..');
const schema = JSON.parse(readFileSync(join(root, 'schemas', 'bacschedule.schema.json'), 'utf8'));

describe('bacschedule.schema.json', () => {
  it('is the file package.json contributes through jsonValidation, as draft-07', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const entry = pkg.contributes.jsonValidation.find((j: Json) => j.fileMatch === '*.bacschedule');
    assert.equal(entry?.url, './schemas/bacschedule.schema.json');
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  });

  it('describes every property the serialiser writes, and nothing it does not (50 fuzzed schedules)', () => {
    const walk = (v: unknown, path: (string | number)[]): void => {
      if (path.length > 0) assert.ok(contractNode('schedule', path), `schema lacks ${path.join('.')}`);
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    };
    for (let seed = 0; seed < 50; seed++) {
      const text = serializeSchedule(randomSchedule(seed));
      assert.ok(parseSchedule(text).ok, `seed ${seed}`);
      const doc = JSON.parse(text);
      walk(doc, []);
      assert.deepEqual(Object.keys(doc), schema.required, 'the serialiser writes the required keys in order');
    }
    // Every top-level field carries a description for editor hovers.
    for (const key of Object.keys(schema.properties)) assert.ok(schema.properties[key].description, key);
  });

  it('every check the reader makes on a single field comes from the schema (no hand-written field checks)', () => {
    // The reader's limits are the schema's: K's range and the step range when K is unknown.
    assert.equal(contractNode('schedule', ['sampler', 'steps'])!.maximum, 100000);
    assert.equal(contractNode('schedule', ['blocks', 0, 'acs', 0])!.maximum, 99999);
    const text = serializeSchedule(randomSchedule(3)).replace(/"steps": \d+/, '"steps": 100001');
    const r = parseSchedule(text);
    assert.ok(!r.ok && r.errors.some((e) => e.path === 'sampler.steps' && /in 1…100000/.test(e.message)));
  });
});
