import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { summarizeSchedule } from '../../src/core/cost';
import { measuredSpeedRecord, speedShown, updateTableHash, withMeasuredSpeed } from '../../src/core/measured-speed';
import { parseSchedule, serializeSchedule } from '../../src/core/schedule-format';
import type { MeasuredSpeed, Schedule } from '../../src/core/types';

const root = resolve(__dirname, '..', '..');
const demoText = readFileSync(join(root, 'fixtures/demo/policy.bacschedule'), 'utf8');
const demo = (parseSchedule(demoText) as { schedule: Schedule }).schedule;

function measuredOf(schedule: Schedule): MeasuredSpeed {
  return {
    provider: 'cpu',
    device: 'Test CPU (2 cores)',
    batch: 1,
    speedup: 3.412,
    chunkMs: 20.5,
    fullChunkMs: 69.9,
    at: '2026-01-01T00:00:00.000Z',
    tableHash: updateTableHash(schedule),
  };
}

describe('measured speed in a schedule', () => {
  it('a schedule without it serialises byte for byte as before; with it, it round-trips', () => {
    assert.equal(serializeSchedule(demo), demoText);
    const text = serializeSchedule({ ...demo, measured: measuredOf(demo) });
    const back = parseSchedule(text);
    assert.ok(back.ok);
    assert.deepEqual((back as { schedule: Schedule }).schedule.measured, measuredOf(demo));
    assert.equal(serializeSchedule((back as { schedule: Schedule }).schedule), text);
  });

  it('is shown as measured while the table is the one measured, else the labelled expectation', () => {
    const withSpeed = { ...demo, measured: measuredOf(demo) };
    assert.equal(speedShown(withSpeed, summarizeSchedule(withSpeed)).label, '3.41× measured on cpu');
    const edited: Schedule = {
      ...withSpeed,
      blocks: withSpeed.blocks.map((b, i) => (i === 0 ? { ...b, manual: [...b.manual, 1] } : b)),
    };
    assert.notEqual(updateTableHash(edited), updateTableHash(demo));
    const shown = speedShown(edited, summarizeSchedule(edited));
    assert.equal(shown.measured, false);
    assert.match(shown.label, /^\d+\.\d\d× expected \(time\)$/);
  });

  it('a malformed measured object is refused with its path', () => {
    const bad = demoText.replace('  "blocks": [', '  "measured": { "provider": "cpu", "batch": 0 },\n  "blocks": [');
    const r = parseSchedule(bad);
    assert.ok(!r.ok);
    const paths = (r as { errors: readonly { path: string }[] }).errors.map((e) => e.path);
    assert.ok(paths.includes('measured.device') && paths.includes('measured.batch'), paths.join(', '));
  });

  it('a record keeps three decimals, batch 1 and the table it measured', () => {
    const m = measuredSpeedRecord(
      demo,
      { provider: 'cpu', device: 'Test CPU (2 cores)', speedup: 3.41234, chunkMs: 20.50049, fullChunkMs: 69.9 },
      new Date('2026-01-01T00:00:00.000Z'),
    );
    assert.deepEqual(m, { ...measuredOf(demo), speedup: 3.412, chunkMs: 20.5 });
  });

  it('is recorded only into the table it measured', () => {
    const ok = withMeasuredSpeed(demo, measuredOf(demo));
    assert.ok(ok.ok);
    assert.equal(serializeSchedule(ok.schedule), serializeSchedule({ ...demo, measured: measuredOf(demo) }));
    const edited: Schedule = {
      ...demo,
      blocks: demo.blocks.map((b, i) => (i === 0 ? { ...b, manual: [...b.manual, 1] } : b)),
    };
    const refused = withMeasuredSpeed(edited, measuredOf(demo));
    assert.ok(!refused.ok);
    assert.match(refused.reason, /changed while its speed was measured/);
  });

  it('the Python runtime reads a schedule that carries it', () => {
    const text = serializeSchedule({ ...demo, measured: measuredOf(demo) });
    const out = execFileSync(
      '/usr/bin/python3',
      ['-c', 'import sys, bac_runtime.schedule as s; print(s.parse_schedule(sys.stdin.read()).K)'],
      { input: text, cwd: join(root, 'python'), encoding: 'utf8' },
    );
    assert.equal(out.trim(), '100');
  });
});
