import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/main';
import { serializeProfile } from '../../src/core/profile-format';
import { parseSchedule } from '../../src/core/schedule-format';
import { scheduleSpeedup } from '../../src/core/cost-target';
import { syntheticProfile } from './helpers/synthetic-profile';

async function bac(cwd: string, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const prev = process.cwd();
  process.chdir(cwd);
  try {
    const code = await runCli(argv, { out: (t) => (stdout += t), err: (t) => (stderr += t) });
    return { code, stdout, stderr };
  } finally {
    process.chdir(prev);
  }
}

describe('bac solve --method / --target-speedup', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bac-solve-target-'));
    writeFileSync(join(dir, 'p.bacprofile'), serializeProfile(syntheticProfile({ layers: 2, steps: 20, seed: 4 })));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const method of ['bac', 'acs', 'unified', 'uniform', 'grid']) {
    it(`${method} at --target-speedup 2.5 writes a schedule at least 2.5× faster by FLOPs`, async () => {
      const out = `${method}.bacschedule`;
      const r = await bac(
        dir,
        'solve',
        'p.bacprofile',
        '--method',
        method,
        '--target-speedup',
        '2.5',
        '--out',
        out,
        '--json',
      );
      assert.equal(r.code, 0, r.stderr);
      const json = JSON.parse(r.stdout) as { method: string; target: { speedup: number; by: string } };
      assert.equal(json.method, method);
      assert.deepEqual(json.target, { speedup: 2.5, by: 'flops' });
      const parsed = parseSchedule(readFileSync(join(dir, out), 'utf8'));
      assert.ok(parsed.ok, JSON.stringify(parsed));
      if (parsed.ok) assert.ok(scheduleSpeedup(parsed.schedule, 'flops') >= 2.5);
    });
  }

  it('grid at --budget uses the FLOPs of uniform at that budget', async () => {
    const r = await bac(dir, 'solve', 'p.bacprofile', '--method', 'grid', '--budget', '5', '--out', 'g.bacschedule');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote g\.bacschedule \(grid\)/);
  });

  it('bad targets and methods are one-line user errors (exit 1) and write nothing', async () => {
    const before = readdirSync(dir).length;
    const cases: [string[], RegExp][] = [
      [
        ['--target-speedup', '50'],
        /out of reach for bac: its cheapest schedule is [\d.]+× faster; lower the target speedup/,
      ],
      [['--target-speedup', '0.5'], /--target-speedup 0\.5 is invalid, expected a number ≥ 1/],
      [['--target-speedup', 'fast'], /--target-speedup fast is invalid/],
      [['--target-speedup', '2', '--by', 'energy'], /--by energy is unknown, expected flops or time/],
      [['--budget', '5', '--by', 'time'], /--by applies to --target-speedup/],
      [['--budget', '5', '--target-speedup', '2'], /both given, expected one of them/],
      [
        ['--method', 'magic', '--budget', '5'],
        /--method magic is unknown, expected one of bac, acs, unified, uniform, grid/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await bac(dir, 'solve', 'p.bacprofile', ...args, '--out', 'bad.bacschedule');
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
    assert.equal(readdirSync(dir).length, before);
  });
});
