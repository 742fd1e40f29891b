/**
 * "BAC: Compile Schedule to ONNX" in a real VS Code: the schedule of the test workspace compiles
 * into a deployable model (step input, packed cache, calling convention with the batch asked for);
 * an invalid schedule is refused with nothing written, and so is an output that is the model itself.
 */
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSchedule } from '../../../src/core/schedule-format';
import { CACHE_INPUT } from '../../../src/engine/onnx/io-names';
import { decodeModel } from '../../../src/engine/onnx/proto';
import { WS } from '../../../scripts/vscode-test/workspace-layout';
import { api, wsUri } from '../helpers';

describe('BAC: Compile Schedule to ONNX', () => {
  it('compiles the workspace schedule at batch 1, atomically, with its calling convention', async function () {
    this.timeout(120_000);
    const dir = mkdtempSync(join(tmpdir(), 'bac-compile-'));
    const out = join(dir, 'policy.cached.onnx');
    const result = await (await api()).compileSchedule({ schedule: wsUri(WS.schedule), out, batch: 1 });
    assert.ok(result, 'the command returned its result (undefined: it failed; see the BAC log)');
    assert.equal(result.out, out);
    assert.equal(result.batch, 1);
    const schedule = parseSchedule(readFileSync(wsUri(WS.schedule).fsPath, 'utf8'));
    assert.ok(schedule.ok);
    assert.equal(result.steps, schedule.schedule.sampler.steps);
    const model = decodeModel(readFileSync(out));
    const inputs = model.graph!.input.map((i) => i.name);
    // `step` as docs/compiled-model.md names it (src/engine/compile.ts would pull ONNX Runtime into
    // this bundle)
    assert.ok(inputs.includes('step') && inputs.includes(CACHE_INPUT), `inputs: ${inputs.join(', ')}`);
    const convention = JSON.parse(
      model.metadataProps.find((p) => p.key === 'bac.calling_convention')?.value ?? '{}',
    ) as { batch?: unknown };
    assert.equal(convention.batch, 1);
    assert.deepEqual(readdirSync(dir), ['policy.cached.onnx'], 'no temp file left beside it');
  });

  it('refuses to write over the model it compiles', async function () {
    this.timeout(60_000);
    const model = wsUri(WS.model).fsPath;
    const before = readFileSync(model);
    const result = await (await api()).compileSchedule({ schedule: wsUri(WS.schedule), out: model, batch: null });
    assert.equal(result, undefined);
    assert.deepEqual(readFileSync(model), before, 'the model is unchanged');
  });

  it('refuses an invalid schedule and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bac-compile-'));
    const out = join(dir, 'broken.onnx');
    const result = await (await api()).compileSchedule({ schedule: wsUri(WS.broken), out, batch: null });
    assert.equal(result, undefined);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(dir), []);
  });
});
