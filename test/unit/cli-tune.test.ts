import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { scheduleSpeedup } from '../../src/core/cost-target';
import { serializeProfile } from '../../src/core/profile-format';
import { parseSchedule } from '../../src/core/schedule-format';
import { bacInDir } from './helpers/cli-run';
import { syntheticProfile } from './helpers/synthetic-profile';

const root = resolve(__dirname, '..', '..');

/** `bac tune p.bacprofile --target-speedup 2 …argv` in `dir`. */
const tune = (dir: string, ...argv: string[]) =>
  bacInDir(dir, ['tune', 'p.bacprofile', '--target-speedup', '2', ...argv]);

/**
 * `bac tune` end to end on the demo policy under DDIM-10 with a synthetic profile of its 24 blocks
 * (the search needs the profile's costs; every score comes from the real model or simulator).
 */
describe('bac tune (CLI)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bac-cli-tune-'));
    const model = join(root, 'fixtures/demo/policy.onnx');
    const sha256 = createHash('sha256').update(readFileSync(model)).digest('hex');
    const profile = {
      ...syntheticProfile({ layers: 8, steps: 10, seed: 2 }),
      model: { path: model, sha256 },
      sampler: { type: 'ddim' as const, steps: 10 },
      episodes: join(root, 'fixtures/demo/episodes/heldout.hdf5'),
    };
    writeFileSync(join(dir, 'p.bacprofile'), serializeProfile(profile));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--measure success tunes on closed-loop trials and reports success, within the target', async () => {
    const r = await tune(
      dir,
      '--measure',
      'success',
      '--trials',
      '4',
      '--search',
      'local',
      '--iterations',
      '1',
      '--out',
      's.bacschedule',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { measure: string; trials: number; tune: { start: number; tuned: number } };
    assert.equal(json.measure, 'success');
    assert.equal(json.trials, 4);
    assert.ok(json.tune.tuned <= json.tune.start);
    const parsed = parseSchedule(readFileSync(join(dir, 's.bacschedule'), 'utf8'));
    assert.ok(parsed.ok);
    if (parsed.ok) assert.ok(scheduleSpeedup(parsed.schedule, 'flops') >= 2);
  });

  it('the text report names the objective and the sets it was measured on', async () => {
    const r = await tune(dir, '--windows', '2', '--iterations', '1', '--out', 'o.bacschedule');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /error of the first executed action vs full/);
    assert.match(r.stdout, /held-out windows: error /);
  });

  it('--search population reports the chosen candidate and its finalists', async () => {
    const r = await tune(
      dir,
      '--windows',
      '2',
      '--search',
      'population',
      '--population',
      '7',
      '--finalists',
      '1',
      '--out',
      'p.bacschedule',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as {
      search: { kind: string; size: number; chosen: string; finalists: { label: string }[] };
    };
    assert.equal(json.search.kind, 'population');
    assert.equal(json.search.size, 7);
    assert.ok(json.search.finalists.some((f) => f.label === json.search.chosen));
    const text = await tune(
      dir,
      '--windows',
      '2',
      '--search',
      'population',
      '--population',
      '6',
      '--out',
      'q.bacschedule',
    );
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /chosen of 6 candidates \(\d finalists re-scored on the selection set\)/);
    assert.match(text.stdout, /selection windows: error [^;]+ → error [^;]+; held-out windows: error /);
  });

  for (const [argv, message] of [
    [['--search', 'greedy'], /--search greedy is unknown, expected local or population/],
    [['--finalists', '2'], /--finalists needs --search population/],
    [['--measure', 'success', '--iterations', '2'], /--iterations counts local search steps: it needs --search local/],
    [
      ['--search', 'population', '--iterations', '3'],
      /--iterations counts local search steps: it needs --search local/,
    ],
    [['--search', 'population', '--population', '0'], /--population/],
    [['--measure', 'nope'], /--measure nope is unknown, expected one of .*success/],
    [['--trials', '5'], /--trials counts closed-loop episodes: it needs --measure success/],
    [['--measure', 'success', '--trials', '0'], /--trials/],
    [['--measure', 'success', '--trials', '10001'], /--trials/],
  ] as const) {
    it(`refuses ${argv.join(' ')} with one message and writes nothing`, async () => {
      const before = readdirSync(dir);
      const r = await tune(dir, ...argv, '--out', 'bad.bacschedule');
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
      assert.deepEqual(readdirSync(dir), before);
    });
  }
});
