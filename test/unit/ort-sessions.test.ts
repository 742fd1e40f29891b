import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, it, mock } from 'node:test';
import type * as Ort from 'onnxruntime-node';
import { evaluate } from '../../src/engine/evaluate';
import { loadOrt, loadPolicy, policyScheduler } from '../../src/engine/policy';
import { loadWindows, runProfile } from '../../src/engine/profiler';

const root = resolve(__dirname, '..', '..');

/**
 * Counts the ONNX Runtime sessions created through `InferenceSession.create` and how many of them
 * were released, by wrapping `create` and each new session's `release`.
 */
function countSessions(): { open: () => number; created: () => number } {
  const ort = loadOrt();
  const create = ort.InferenceSession.create.bind(ort.InferenceSession) as (
    ...args: unknown[]
  ) => Promise<Ort.InferenceSession>;
  let created = 0;
  let released = 0;
  mock.method(ort.InferenceSession, 'create', async (...args: unknown[]) => {
    const session = await create(...args);
    created++;
    const release = session.release.bind(session);
    session.release = async () => {
      released++;
      await release();
    };
    return session;
  });
  return { open: () => created - released, created: () => created };
}

function request() {
  return {
    modelPath: join(root, 'test/fixtures/engine/small-dpt.onnx'),
    episodesPath: join(root, 'fixtures/demo/episodes/heldout.hdf5'),
    samples: 3,
    seed: 1,
    executionProvider: 'cpu' as const,
    outPath: join(mkdtempSync(join(tmpdir(), 'bac-sessions-')), 'p.bacprofile'),
    batchSize: 1,
  };
}

describe('runProfile releases every ONNX Runtime session', () => {
  afterEach(() => mock.restoreAll());

  it('when a hook throws while sampling', async () => {
    const sessions = countSessions();
    await assert.rejects(
      runProfile(request(), {
        progress: () => {
          throw new Error('injected progress failure');
        },
      }),
      /injected progress failure/,
    );
    assert.ok(sessions.created() >= 1, 'the profile opened no session: the failure was injected too early');
    assert.equal(sessions.open(), 0, 'sessions left open after the failure');
  });

  it('when a denoiser call fails while the blocks are timed', async () => {
    const sessions = countSessions();
    // The second session is the gated one; its run fails (as an out-of-memory call would).
    let n = 0;
    const ort = loadOrt();
    const create = ort.InferenceSession.create as (...args: unknown[]) => Promise<Ort.InferenceSession>;
    mock.method(ort.InferenceSession, 'create', async (...args: unknown[]) => {
      const session = await create(...args);
      if (++n === 2) session.run = async () => Promise.reject(new Error('injected run failure'));
      return session;
    });
    await assert.rejects(runProfile(request()), /injected run failure/);
    assert.equal(sessions.created(), 2);
    assert.equal(sessions.open(), 0, 'sessions left open after the failure');
  });

  it("when a chunk graph's call fails while the per-step cost is fitted", async () => {
    const sessions = countSessions();
    // Sessions 4 to 9: per chunk graph, the evaluation of its timestep-only values, then the graph
    // (after the plain, the gated and the step fold); session 5 is the first chunk graph.
    let n = 0;
    const ort = loadOrt();
    const create = ort.InferenceSession.create as (...args: unknown[]) => Promise<Ort.InferenceSession>;
    mock.method(ort.InferenceSession, 'create', async (...args: unknown[]) => {
      const session = await create(...args);
      if (++n === 5) session.run = async () => Promise.reject(new Error('injected chunk failure'));
      return session;
    });
    await assert.rejects(runProfile(request()), /injected chunk failure/);
    assert.equal(sessions.created(), 9);
    assert.equal(sessions.open(), 0, 'sessions left open after the failure');
  });

  it('on success', async () => {
    const sessions = countSessions();
    await runProfile(request());
    assert.equal(
      sessions.created(),
      9,
      'the plain session, the gated one for timing, the step fold and three chunk graphs for the per-step cost, each after the evaluation of its timestep-only values',
    );
    assert.equal(sessions.open(), 0);
  });
});

describe('evaluate releases every ONNX Runtime session', () => {
  afterEach(() => mock.restoreAll());

  it('when a chunk graph cannot be built or opened', async () => {
    const { modelPath, episodesPath } = request();
    const policy = await loadPolicy(modelPath);
    const windows = await loadWindows(policy, episodesPath, 1, 1);
    const sessions = countSessions();
    const ort = loadOrt();
    const create = ort.InferenceSession.create as (...args: unknown[]) => Promise<Ort.InferenceSession>;
    let n = 0;
    mock.method(ort.InferenceSession, 'create', async (...args: unknown[]) => {
      if (++n === 2) throw new Error('injected open failure');
      return create(...args);
    });
    await assert.rejects(
      evaluate(policy, policyScheduler(policy), windows, [], { ep: 'cpu', seed: 1 }),
      /injected open failure/,
    );
    assert.equal(sessions.created(), 1);
    assert.equal(sessions.open(), 0, 'the plain session was left open');
  });
});
