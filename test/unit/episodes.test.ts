/**
 * Episode readers: robomimic HDF5, zarr directory and `.zarr.zip` agree on the same data and match
 * the closed-form fixture values (`test/fixtures-gen/make_episodes.py`); start padding; key order;
 * the normalizer; deterministic, spread-out sampling; and every bad input gives one BacError that
 * names the file and the fix, without crashing the process or poisoning later reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { isBacError } from '../../src/core/errors';
import { Rng } from '../../src/core/rng';
import {
  applyNormalizer,
  checkObsKeys,
  openEpisodes,
  sampleWindows,
  type EpisodeSource,
} from '../../src/engine/episodes';

const FIX = join(__dirname, '..', 'fixtures', 'episodes');
const DEMO = join(__dirname, '..', '..', 'fixtures', 'demo', 'episodes');
const TINY = ['tiny.hdf5', 'tiny.zarr', 'tiny.zarr.zip'].map((f) => join(FIX, f));

// Mirror of make_episodes.py.
const KEYS = ['robot0_eef_pos', 'robot0_gripper_qpos', 'object'];
const DIMS: Record<string, number> = { robot0_eef_pos: 3, robot0_gripper_qpos: 2, object: 4 };
const COL0: Record<string, number> = { robot0_eef_pos: 0, robot0_gripper_qpos: 3, object: 5 };
const N_EP = 12;
const epLen = (e: number): number => 3 + ((e * 7) % 11);
const obsValue = (e: number, t: number, key: string, d: number): number => 1000 * e + t + (COL0[key]! + d) / 8;

async function withSource<T>(path: string, fn: (s: EpisodeSource) => Promise<T>): Promise<T> {
  const s = await openEpisodes(path);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** Asserts that `p` rejects with exactly one BacError whose message matches every pattern. */
async function rejectsBac(p: Promise<unknown>, ...patterns: RegExp[]): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(isBacError(e), `expected a BacError, got ${String(e)}`);
    for (const re of patterns) assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), `one-line message expected: ${e.message}`);
    return e.message;
  }
  assert.fail('expected a rejection');
}

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'bac-episodes-'));
}

test('the three formats describe the same episodes, demos in numeric order', async () => {
  const formats: string[] = [];
  for (const path of TINY) {
    await withSource(path, async (s) => {
      formats.push(s.format);
      assert.equal(s.episodeCount, N_EP);
      // demo_10 must be episode 10 (name order would put it at index 2).
      assert.deepEqual(
        s.lengths,
        Array.from({ length: N_EP }, (_, e) => epLen(e)),
      );
      assert.deepEqual(
        s.obsKeys.map((k) => [k.key, k.dim, [...k.shape]]),
        [...KEYS].sort().map((k) => [k, DIMS[k], [DIMS[k]]]),
      );
      assert.equal(s.obsKeys.find((k) => k.key === 'object')!.dtype, 'float64');
      assert.equal(s.actionDim, 3);
      assert.equal(s.episodeName(10), s.format === 'robomimic-hdf5' ? 'demo_10' : 'episode 10');
    });
  }
  assert.deepEqual(formats, ['robomimic-hdf5', 'zarr-dir', 'zarr-zip']);
});

test('windows and actions are identical across formats and equal the closed-form values', async () => {
  const order = ['object', 'robot0_eef_pos', 'robot0_gripper_qpos']; // not the file's order
  const width = 9;
  const dumps: Float32Array[][] = [];
  for (const path of TINY) {
    await withSource(path, async (s) => {
      const dump: Float32Array[] = [];
      for (let e = 0; e < N_EP; e++) {
        const act = await s.actions(e);
        assert.equal(act.length, epLen(e) * 3);
        for (let t = 0; t < epLen(e); t++) {
          for (let d = 0; d < 3; d++) assert.equal(act[t * 3 + d], -(1000 * e + t + d / 8));
          const w = await s.observationWindow(e, t, order, 2);
          assert.equal(w.length, 2 * width);
          for (let i = 0; i < 2; i++) {
            const step = Math.max(0, t - 1 + i);
            let col = 0;
            for (const k of order) {
              for (let d = 0; d < DIMS[k]!; d++) assert.equal(w[i * width + col + d], obsValue(e, step, k, d));
              col += DIMS[k]!;
            }
          }
          dump.push(w);
        }
        dump.push(act);
      }
      dumps.push(dump);
    });
  }
  assert.deepEqual(dumps[1], dumps[0]);
  assert.deepEqual(dumps[2], dumps[0]);
});

test('the episode start is padded by repeating step 0, as diffusion_policy does', async () => {
  await withSource(TINY[1]!, async (s) => {
    const key = ['robot0_gripper_qpos'];
    const rows = (w: Float32Array): number[] => Array.from({ length: w.length / 2 }, (_, i) => w[i * 2]! - 4000);
    // episode 4, gripper column 3 → value 4000 + t + 3/8
    assert.deepEqual(rows(await s.observationWindow(4, 0, key, 3)), [0.375, 0.375, 0.375]);
    assert.deepEqual(rows(await s.observationWindow(4, 1, key, 3)), [0.375, 0.375, 1.375]);
    assert.deepEqual(rows(await s.observationWindow(4, 5, key, 3)), [3.375, 4.375, 5.375]);
    assert.deepEqual(rows(await s.observationWindow(4, 8, key, 1)), [8.375]);
    await assert.rejects(s.observationWindow(4, epLen(4), key, 2), RangeError);
    await assert.rejects(s.observationWindow(N_EP, 0, key, 2), RangeError);
  });
});

test('returned arrays are copies: mutating one does not change the next read', async () => {
  await withSource(TINY[0]!, async (s) => {
    const a = await s.actions(2);
    a.fill(0);
    assert.equal((await s.actions(2))[0], -2000);
    const w = await s.observationWindow(2, 1, ['object'], 2);
    w.fill(0);
    assert.equal((await s.observationWindow(2, 1, ['object'], 2))[0], obsValue(2, 0, 'object', 0));
  });
});

test('applyNormalizer maps raw·scale + offset per dimension of every step, and checks lengths', () => {
  const w = new Float32Array([1, 2, 3, 4, 5, 6]); // 2 steps × 3 dims
  const out = applyNormalizer(w, { scale: [2, 0.5, -1], offset: [1, 0, 10] });
  assert.equal(out, w, 'in place');
  assert.deepEqual([...out], [3, 1, 7, 9, 2.5, 4]);
  assert.throws(
    () => applyNormalizer(new Float32Array(6), { scale: [1, 1, 1, 1], offset: [0, 0, 0, 0] }),
    (e: unknown) => isBacError(e) && /4 values per step.*6 values/.test(e.message),
  );
  assert.throws(
    () => applyNormalizer(new Float32Array(6), { scale: [1, 1, 1], offset: [0, 0] }),
    (e: unknown) => isBacError(e) && /3 scale and 2 offset/.test(e.message),
  );
  assert.throws(
    () => applyNormalizer(new Float32Array(3), { scale: [1, NaN, 1], offset: [0, 0, 0] }),
    (e: unknown) => isBacError(e) && /non-finite value at dimension 1/.test(e.message),
  );
});

test('sampleWindows is deterministic, spread over episodes and time, and format-independent', async () => {
  const opts = { keys: ['object', 'robot0_eef_pos'], nObsSteps: 2, count: 24, seed: 7, expectedDim: 7 };
  const runs: { episode: number; t: number; obs: Float32Array }[][] = [];
  for (const path of TINY) runs.push(await withSource(path, (s) => sampleWindows(s, opts)));
  assert.deepEqual(runs[1], runs[0]);
  assert.deepEqual(runs[2], runs[0]);
  const again = await withSource(TINY[0]!, (s) => sampleWindows(s, opts));
  assert.deepEqual(again, runs[0]);
  const picks = runs[0]!;
  assert.equal(picks.length, 24);
  // 24 windows over 12 episodes: exactly 2 each, one from each half of the episode.
  for (let e = 0; e < N_EP; e++) {
    const ts = picks.filter((p) => p.episode === e).map((p) => p.t);
    assert.equal(ts.length, 2, `episode ${e}`);
    assert.ok(ts[0]! < epLen(e) / 2 && ts[1]! >= Math.floor(epLen(e) / 2), `episode ${e}: ${ts}`);
  }
  // obs is the window at (episode, t)
  await withSource(TINY[0]!, async (s) => {
    for (const p of picks) assert.deepEqual(p.obs, await s.observationWindow(p.episode, p.t, opts.keys, 2));
  });
  const other = await withSource(TINY[0]!, (s) => sampleWindows(s, { ...opts, seed: 8 }));
  assert.notDeepEqual(
    other.map((p) => [p.episode, p.t]),
    picks.map((p) => [p.episode, p.t]),
  );
  // fewer windows than episodes: all distinct episodes
  const few = await withSource(TINY[1]!, (s) => sampleWindows(s, { ...opts, count: 5 }));
  assert.equal(new Set(few.map((p) => p.episode)).size, 5);
  // minEpisodeLength skips short episodes
  const long = await withSource(TINY[1]!, (s) => sampleWindows(s, { ...opts, count: 30, minEpisodeLength: 11 }));
  assert.deepEqual(
    [...new Set(long.map((p) => p.episode))].sort((a, b) => a - b),
    [3, 6, 9],
  );
});

test('bad requests: missing key names the available keys; dimension mismatch names the widths; short episodes', async () => {
  await withSource(TINY[2]!, async (s) => {
    await rejectsBac(
      s.observationWindow(0, 0, ['robot0_eef_pos', 'robot0_eef_quat'], 2),
      /tiny\.zarr\.zip/,
      /"robot0_eef_quat" is missing/,
      /available keys: object \(4\), robot0_eef_pos \(3\), robot0_gripper_qpos \(2\)/,
    );
    assert.throws(
      () => checkObsKeys(s, ['robot0_eef_pos', 'object'], 23),
      (e: unknown) =>
        isBacError(e) &&
        /expects 23 observation values per step but bac\.obs_keys give 7/.test(e.message) &&
        /robot0_eef_pos 3 \+ object 4/.test(e.message),
    );
    assert.equal(checkObsKeys(s, ['robot0_eef_pos', 'object'], 7).length, 2);
    await rejectsBac(
      sampleWindows(s, { keys: ['object'], nObsSteps: 2, count: 3, seed: 0, expectedDim: 5 }),
      /expects 5/,
    );
    await rejectsBac(
      sampleWindows(s, { keys: ['object'], nObsSteps: 2, count: 3, seed: 0, minEpisodeLength: 16 }),
      /every episode is shorter than the 16 steps needed \(the longest has 13\)/,
    );
    await rejectsBac(s.observationWindow(0, 0, [], 2), /no observation keys/);
    await rejectsBac(s.observationWindow(0, 0, ['object', 'object'], 2), /requested twice/);
  });
});

test('bad files: each gives one clear BacError naming the file and the fix', async () => {
  await rejectsBac(openEpisodes(join(FIX, 'nope.hdf5')), /nope\.hdf5 was not found/, /robomimic HDF5/);
  await rejectsBac(openEpisodes(join(FIX, '..', '..', 'unit', 'episodes.test.ts')), /unknown format/, /\.zarr\.zip/);
  await rejectsBac(openEpisodes(join(FIX, 'not_hdf5.hdf5')), /not_hdf5\.hdf5 is not an HDF5 file/);
  await rejectsBac(
    openEpisodes(join(FIX, 'truncated.hdf5')),
    /truncated\.hdf5 is truncated: it has 25932 bytes but its HDF5 superblock says 51864/,
    /copy or export the file again/,
  );
  await rejectsBac(
    openEpisodes(join(FIX, 'empty.zarr')),
    /empty\.zarr holds no episodes \(meta\/episode_ends is empty\)/,
  );
  await rejectsBac(openEpisodes(join(FIX, 'no_ends.zarr')), /no_ends\.zarr has no meta\/episode_ends array/);
  await withSource(join(FIX, 'missing_key.hdf5'), async (s) => {
    await s.observationWindow(2, 0, ['object'], 2); // demos before demo_3 are fine
    await rejectsBac(
      s.observationWindow(3, 0, ['object'], 2),
      /missing_key\.hdf5/,
      /"object" is missing from demo_3 \(it has: robot0_eef_pos, robot0_gripper_qpos\)/,
    );
  });
  await withSource(join(FIX, 'nonfinite.hdf5'), async (s) => {
    await rejectsBac(
      s.observationWindow(1, 3, ['robot0_gripper_qpos'], 2),
      /"robot0_gripper_qpos" of demo_1 has a non-finite value \(NaN\) at step 1, dimension 0/,
    );
  });
  // The HDF5 library is still usable after the failures above.
  assert.equal(await withSource(TINY[0]!, async (s) => (await s.actions(11))[0]), -11000);
});

test('damaged copies made on the fly never crash: truncated zip, corrupted HDF5, corrupted zarr chunk, bare .zarr dir', async () => {
  const dir = scratch();
  try {
    const zip = readFileSync(TINY[2]!);
    writeFileSync(join(dir, 'half.zarr.zip'), zip.subarray(0, zip.length >> 1));
    await rejectsBac(openEpisodes(join(dir, 'half.zarr.zip')), /half\.zarr\.zip is not a readable zip/);
    // A flipped byte inside a stored (uncompressed) member: only the zip's CRC-32 can tell.
    const flipped = Buffer.from(zip);
    const name = Buffer.from('data/object/0.0');
    const header = flipped.indexOf(name) - 30; // first occurrence: the local file header
    assert.equal(flipped.readUInt32LE(header), 0x04034b50);
    const dataAt = header + 30 + name.length + flipped.readUInt16LE(header + 28);
    flipped[dataAt + 10] = flipped[dataAt + 10]! ^ 0x40;
    writeFileSync(join(dir, 'flipped.zarr.zip'), flipped);
    await withSource(join(dir, 'flipped.zarr.zip'), async (s) => {
      await rejectsBac(
        s.observationWindow(0, 0, ['object'], 1),
        /zip member data\/object\/0\.0 fails its CRC-32 check/,
      );
      assert.equal((await s.observationWindow(0, 0, ['robot0_eef_pos'], 1))[0], 0, 'other members still read');
    });
    writeFileSync(join(dir, 'fake.zarr.zip'), 'not a zip');
    await rejectsBac(openEpisodes(join(dir, 'fake.zarr.zip')), /is not a zip file/);

    // Zeroing the second half keeps the size (passes the truncation check) but breaks the objects.
    const h5 = Buffer.from(readFileSync(TINY[0]!));
    h5.fill(0, h5.length >> 1);
    writeFileSync(join(dir, 'zeroed.hdf5'), h5);
    try {
      await withSource(join(dir, 'zeroed.hdf5'), async (s) => {
        for (let e = 0; e < s.episodeCount; e++) {
          await s.actions(e);
          await s.observationWindow(
            e,
            0,
            s.obsKeys.map((k) => k.key),
            2,
          );
        }
      });
    } catch (e) {
      assert.ok(isBacError(e), `expected a BacError, got ${String(e)}`);
      assert.match(e.message, /zeroed\.hdf5/);
    }

    // One damaged chunk per codec: blosc (numcodecs returns nothing rather than throwing), zlib,
    // and an uncompressed chunk cut short (would otherwise read as zeros).
    cpSync(TINY[1]!, join(dir, 'bad.zarr'), { recursive: true });
    const chunk = (key: string): string => join(dir, 'bad.zarr', 'data', key, '0.0');
    writeFileSync(chunk('robot0_eef_pos'), Buffer.alloc(40, 7));
    writeFileSync(chunk('robot0_gripper_qpos'), Buffer.alloc(30, 3));
    writeFileSync(chunk('object'), readFileSync(chunk('object')).subarray(0, 100));
    await withSource(join(dir, 'bad.zarr'), async (s) => {
      for (const key of ['robot0_eef_pos', 'robot0_gripper_qpos', 'object']) {
        await rejectsBac(
          s.observationWindow(0, 0, [key], 1),
          new RegExp(`bad\\.zarr: cannot decode data/${key} for episode 0`),
        );
      }
      await rejectsBac(
        s.observationWindow(0, 0, ['object'], 1),
        /chunk \/data\/object\/0\.0 has 100 bytes where 512 are expected/,
      );
      assert.equal((await s.actions(0))[0], -0, 'undamaged arrays still read');
    });

    mkdirSync(join(dir, 'plain.zarr'));
    await rejectsBac(openEpisodes(join(dir, 'plain.zarr')), /plain\.zarr is a directory without \.zgroup/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(await withSource(TINY[0]!, async (s) => s.episodeCount), N_EP);
});

test('seeded random byte damage to HDF5 and .zarr.zip: every outcome is data or a BacError', async () => {
  const dir = scratch();
  const rng = new Rng(2026);
  try {
    for (const [src, name] of [
      [TINY[0]!, 'fuzz.hdf5'],
      [TINY[2]!, 'fuzz.zarr.zip'],
    ] as const) {
      const bytes = readFileSync(src);
      let errors = 0;
      for (let i = 0; i < 30; i++) {
        const c = Buffer.from(bytes);
        const flips = 1 + Math.floor(rng.uniform() * 16);
        for (let j = 0; j < flips; j++) c[Math.floor(rng.uniform() * c.length)] = Math.floor(rng.uniform() * 256);
        writeFileSync(join(dir, name), c);
        try {
          await withSource(join(dir, name), async (s) => {
            for (let e = 0; e < s.episodeCount; e++) {
              await s.actions(e);
              await s.observationWindow(
                e,
                s.lengths[e]! - 1,
                s.obsKeys.map((k) => k.key),
                2,
              );
            }
          });
        } catch (e) {
          assert.ok(isBacError(e), `${name} #${i}: expected a BacError, got ${(e as Error).stack}`);
          errors++;
        }
      }
      assert.ok(errors > 8, `${name}: most damage is detected (${errors}/30)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'demo episodes: robomimic HDF5, zarr dir and zarr zip hold the same arrays',
  { skip: !existsSync(join(DEMO, 'heldout.hdf5')) && 'fixtures/demo/episodes not generated' },
  async () => {
    for (const set of ['heldout', 'train']) {
      const paths = ['hdf5', 'zarr', 'zarr.zip'].map((ext) => join(DEMO, `${set}.${ext}`));
      const sources = await Promise.all(paths.map((p) => openEpisodes(p)));
      try {
        const [h, d, z] = sources as [EpisodeSource, EpisodeSource, EpisodeSource];
        assert.ok(h.episodeCount > 0);
        for (const s of [d, z]) {
          assert.deepEqual(s.lengths, h.lengths, `${set}: lengths`);
          assert.deepEqual(
            s.obsKeys.map((k) => [k.key, k.dim]),
            h.obsKeys.map((k) => [k.key, k.dim]),
            `${set}: keys`,
          );
          assert.equal(s.actionDim, h.actionDim);
        }
        const keys = h.obsKeys.map((k) => k.key);
        // Every episode of the held-out set; a spread of the (larger) training set to stay fast.
        const eps = set === 'heldout' ? [...h.lengths.keys()] : [0, 1, 2, h.episodeCount >> 1, h.episodeCount - 1];
        for (const e of eps) {
          const len = h.lengths[e]!;
          const ref = [await h.actions(e), await h.observationWindow(e, len - 1, keys, len)];
          for (const s of [d, z]) {
            assert.deepEqual(
              [await s.actions(e), await s.observationWindow(e, len - 1, keys, len)],
              ref,
              `${set} ${e}`,
            );
          }
        }
      } finally {
        await Promise.all(sources.map((s) => s.close()));
      }
    }
  },
);
