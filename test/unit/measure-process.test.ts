import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { BacError } from '../../src/core/errors';
import { parseSchedule } from '../../src/core/schedule-format';
import type { Schedule } from '../../src/core/types';
import { MeasureCancelledError, measureInChildProcess } from '../../src/engine/measure-process';

const root = resolve(__dirname, '..', '..');
const schedulePath = join(root, 'fixtures/demo/policy.bacschedule');
const demo = (parseSchedule(readFileSync(schedulePath, 'utf8')) as { schedule: Schedule }).schedule;
const request = (schedule: Schedule) => ({
  schedule,
  scheduleDir: dirname(schedulePath),
  episodesPath: join(root, 'fixtures/demo/episodes/heldout.hdf5'),
  samples: 1,
  seed: 1,
  ep: 'cpu' as const,
});

describe('speed measurement in a child process', () => {
  it('a cancel ends the child and rejects as cancelled', async () => {
    const abort = new AbortController();
    const run = measureInChildProcess(request(demo), { signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    await assert.rejects(run, MeasureCancelledError);
  });

  it("a model that is not the schedule's is a user error from the child", async () => {
    const other = { ...demo, model: { ...demo.model, sha256: '0'.repeat(64) } };
    await assert.rejects(
      measureInChildProcess(request(other)),
      (e: unknown) => e instanceof BacError && /model\.sha256 000000000000… does not match/.test(e.message),
    );
  });
});
