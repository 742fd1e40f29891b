/**
 * "BAC: Tune Schedule…" in a real VS Code: the workspace profile is tuned in the child process
 * (dist/tune-worker.js) and the schedule is written atomically only when the search finished;
 * an output that is the profile itself is refused and the profile left as it is.
 */
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { scheduleSpeedup } from '../../../src/core/cost-target';
import { parseSchedule } from '../../../src/core/schedule-format';
import { pickModel, WS } from '../../../scripts/vscode-test/workspace-layout';
import { api, closeAllEditors, repoRoot, skipBecause, wsUri } from '../helpers';

/** Skips, saying what is missing, unless the worker is built and the workspace model fits the demo episodes. */
function workerOrSkip(ctx: Mocha.Context): void {
  const worker = join(repoRoot().fsPath, 'dist', 'tune-worker.js');
  if (!existsSync(worker))
    skipBecause(ctx, `${worker} is missing (src/engine/tune-worker.ts, built by scripts/build.mjs)`);
  if (!pickModel((p) => existsSync(join(repoRoot().fsPath, p))).fitsDemoEpisodes)
    skipBecause(ctx, 'the workspace model does not fit the demo episodes the profile links');
}

/** Runs the command on the workspace profile at target 4× by the offline default measure. */
async function tuneWorkspaceProfile(out: string, iterations: number, windows: number) {
  return (await api()).tuneSchedule({
    profile: wsUri(WS.profile).fsPath,
    targetSpeedup: 4,
    measure: 'firstAction',
    search: 'local',
    out,
    iterations,
    windows,
  });
}

describe('BAC: Tune Schedule…', () => {
  afterEach(closeAllEditors);

  it('tunes the workspace profile at a target and writes a schedule that meets it', async function () {
    this.timeout(300_000);
    workerOrSkip(this);
    const profile = wsUri(WS.profile).fsPath;
    const out = join(dirname(profile), 'tuned.bacschedule');
    const result = await tuneWorkspaceProfile(out, 2, 2);
    assert.ok(result, 'the command returned its result (undefined: it failed; see the BAC log)');
    assert.equal(result.out, out);
    const parsed = parseSchedule(readFileSync(out, 'utf8'));
    assert.ok(parsed.ok, 'the written file is a valid schedule');
    assert.ok(scheduleSpeedup(parsed.schedule, 'flops') >= 4, 'the schedule meets the target');
    assert.equal(parsed.schedule.solver.profile?.path, 'policy.bacprofile');
    assert.ok(result.outcome.tune.tuned <= result.outcome.tune.start, 'the search never keeps a worse schedule');
    assert.deepEqual(
      readdirSync(dirname(out)).filter((f) => f.includes('.bac-tmp')),
      [],
      'no temporary file is left',
    );
  });

  it('the population search runs in the tuning process and reports its choice', async function () {
    this.timeout(300_000);
    workerOrSkip(this);
    const profile = wsUri(WS.profile).fsPath;
    const out = join(dirname(profile), 'population.bacschedule');
    try {
      const result = await (
        await api()
      ).tuneSchedule({
        profile,
        targetSpeedup: 4,
        measure: 'firstAction',
        search: 'population',
        population: 6,
        finalists: 1,
        windows: 1,
        out,
      });
      assert.ok(result, 'the command returned its result (undefined: it failed; see the BAC log)');
      const search = result.outcome.search;
      assert.equal(search.kind, 'population');
      if (search.kind === 'population') assert.ok(search.finalists.some((f) => f.label === search.chosen));
      const parsed = parseSchedule(readFileSync(out, 'utf8'));
      assert.ok(parsed.ok, 'the written file is a valid schedule');
      assert.ok(scheduleSpeedup(parsed.schedule, 'flops') >= 4, 'the schedule meets the target');
    } finally {
      rmSync(out, { force: true });
    }
  });

  it('refuses to write over the profile it tunes from', async function () {
    this.timeout(60_000);
    workerOrSkip(this);
    const profile = wsUri(WS.profile).fsPath;
    const before = readFileSync(profile);
    const result = await tuneWorkspaceProfile(profile, 1, 1);
    assert.equal(result, undefined);
    assert.deepEqual(readFileSync(profile), before);
  });
});
