import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CONTRACTS, generateSchemaTypes, typesModule } from '../../scripts/gen-schema-types';

const root = join(__dirname, '..', '..');
const scheduleSchema = JSON.parse(readFileSync(join(root, 'schemas', 'bacschedule.schema.json'), 'utf8'));

describe('types generated from schemas/ (scripts/gen-schema-types.ts)', () => {
  it('the checked-in src/core/generated files are what the schemas generate (else run npm run gen:types)', async () => {
    const generated = await generateSchemaTypes(root);
    assert.equal(generated.size, CONTRACTS.length);
    for (const [path, text] of generated) {
      assert.equal(readFileSync(join(root, path), 'utf8'), text, `${path} is stale: run npm run gen:types`);
    }
    // No leftover file of a contract that was removed or renamed.
    const files = readdirSync(join(root, 'src', 'core', 'generated')).map((f) => join('src', 'core', 'generated', f));
    assert.deepEqual(files.sort(), [...generated.keys()].sort());
  });

  it('a schema edit changes the generated types (optional field, word pattern, nullable number)', () => {
    const before = typesModule('bacschedule.schema.json', scheduleSchema, 'ScheduleFile');
    const edited = structuredClone(scheduleSchema);
    edited.properties.sampler.properties.kind = { type: 'string', pattern: '^(ddpm|ddim)$', description: 'Kind.' };
    edited.properties.measured = { type: ['number', 'null'], minimum: 0, description: 'Measured.' };
    const after = typesModule('bacschedule.schema.json', edited, 'ScheduleFile');
    assert.notEqual(after, before);
    assert.match(after, /readonly kind\?: 'ddpm' \| 'ddim';/);
    assert.match(
      after,
      /\/\*\*\n {3}\* Measured\.\n {3}\* Schema: ≥ 0\.\n {3}\*\/\n {2}readonly measured\?: number \| null;/,
    );
    assert.match(before, /readonly profile: null \| FileRef;/);
    assert.match(before, /readonly blocks: readonly ScheduleFileBlock\[\];/);
  });

  it('refuses what it cannot express instead of generating a looser type', () => {
    const withKeyword = structuredClone(scheduleSchema);
    withKeyword.properties.sampler.properties.steps.multipleOf = 2;
    assert.throws(() => typesModule('bacschedule.schema.json', withKeyword, 'ScheduleFile'), /keyword multipleOf/);
    const open = structuredClone(scheduleSchema);
    delete open.properties.summary.additionalProperties;
    assert.throws(() => typesModule('bacschedule.schema.json', open, 'ScheduleFile'), /additionalProperties: false/);
    const badRef = structuredClone(scheduleSchema);
    badRef.properties.model.$ref = 'other.schema.json#/definitions/fileRef';
    assert.throws(() => typesModule('bacschedule.schema.json', badRef, 'ScheduleFile'), /not in CONTRACTS/);
  });
});
