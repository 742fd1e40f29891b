import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BacError } from '../../src/core/errors';
import {
  parseProfile,
  PROFILE_MAGIC,
  PROFILE_VERSION,
  serializeProfile,
  triangleLength,
  type ParseProfileResult,
} from '../../src/core/profile-format';
import { formatIssues } from '../../src/core/schedule-format';
import type { Profile } from '../../src/core/types';
import { seededRandom, syntheticProfile } from './helpers/synthetic-profile';

// Parsed JSON documents are mutated freely in these tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function errorsOf(r: ParseProfileResult): string {
  assert.equal(r.ok, false, 'expected the bytes to be rejected');
  return r.ok ? '' : formatIssues('p.bacprofile', r.errors);
}

/** Header JSON and payload start of a serialised profile. */
function split(bytes: Uint8Array): { header: Json; payloadStart: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = view.getUint32(12, true);
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + h))), payloadStart: (16 + h + 3) & ~3 };
}

/** Rebuilds a file with an edited header (payload bytes unchanged). */
function withHeader(bytes: Uint8Array, edit: (h: Json) => void, rewrite = (text: string) => text): Uint8Array {
  const { header, payloadStart } = split(bytes);
  edit(header);
  const hb = new TextEncoder().encode(rewrite(JSON.stringify(header)));
  const start = (16 + hb.length + 3) & ~3;
  const out = new Uint8Array(start + bytes.length - payloadStart);
  out.set(bytes.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, hb.length, true);
  out.set(hb, 16);
  out.set(bytes.subarray(payloadStart), start);
  return out;
}

describe('.bacprofile', () => {
  const profile = syntheticProfile({ layers: 2, steps: 12, seed: 5 });
  const bytes = serializeProfile(profile);

  it('round-trips every field; matrices come back full and symmetric', () => {
    const r = parseProfile(bytes);
    assert.ok(r.ok, r.ok ? '' : formatIssues('p', r.errors));
    assert.deepEqual(r.profile, profile);
  });

  it('records how many elements ℓ was averaged over, and reads files written before it was recorded', () => {
    const estimated = { ...profile, l1Elements: 7 };
    const r = parseProfile(serializeProfile(estimated));
    assert.ok(r.ok);
    assert.equal(r.profile.l1Elements, 7);
    assert.ok(!('l1Elements' in profile), 'the synthetic profile has none');
    const older = parseProfile(bytes);
    assert.ok(older.ok && older.profile.l1Elements === undefined);
  });

  it('is deterministic and re-serialises to the same bytes', () => {
    assert.deepEqual(serializeProfile(profile), bytes);
    const r = parseProfile(bytes);
    assert.ok(r.ok);
    assert.deepEqual(serializeProfile(r.profile), bytes);
  });

  it('follows the documented layout', () => {
    assert.deepEqual(bytes.subarray(0, 8), PROFILE_MAGIC);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    assert.equal(view.getUint32(8, true), PROFILE_VERSION);
    const { header, payloadStart } = split(bytes);
    assert.equal(payloadStart % 4, 0);
    assert.deepEqual(Object.keys(header), [
      'model',
      'sampler',
      'samples',
      'seed',
      'episodes',
      'executionProvider',
      'createdAt',
      'baseCost',
      'blocks',
      'arrays',
    ]);
    assert.equal(header.arrays.length, 2 * profile.blocks.length);
    assert.deepEqual(header.arrays[1], {
      name: '0.sa.simStd',
      offset: 4 * triangleLength(12),
      length: triangleLength(12),
    });
    // entry (0, 1) of block 0's simMean is the 2nd float of the payload
    assert.equal(view.getFloat32(payloadStart + 4, true), profile.blocks[0]!.simMean[1]);
    assert.equal(bytes.length, payloadStart + 4 * triangleLength(12) * 2 * profile.blocks.length);
  });

  it('stays compact for K = 100 × 24 blocks (< 1 MB)', () => {
    const big = serializeProfile(syntheticProfile({ layers: 8, steps: 100 }));
    assert.ok(big.length < 1_000_000, `${big.length} bytes`);
    assert.ok(parseProfile(big).ok);
  });

  it('stores the upper triangle: the lower one is rebuilt from it', () => {
    const K = 3;
    const p = syntheticProfile({ layers: 1, steps: K });
    const b0 = p.blocks[0]!;
    const asym = new Float32Array(b0.simMean);
    asym[1 * K + 0] = 0.123; // lower-triangle entry, not stored
    const r = parseProfile(serializeProfile({ ...p, blocks: [{ ...b0, simMean: asym }, ...p.blocks.slice(1)] }));
    assert.ok(r.ok);
    assert.equal(r.profile.blocks[0]!.simMean[1 * K + 0], asym[0 * K + 1]);
  });

  it('refuses to write malformed matrices', () => {
    const b0 = profile.blocks[0]!;
    const bad: Profile = { ...profile, blocks: [{ ...b0, simMean: new Float32Array(5) }, ...profile.blocks.slice(1)] };
    assert.throws(
      () => serializeProfile(bad),
      (e: unknown) => e instanceof BacError && /0\.sa simMean has 5 entries, expected 12×12/.test(e.message),
    );
    const nan = new Float32Array(b0.simMean);
    nan[3] = NaN;
    assert.throws(
      () => serializeProfile({ ...profile, blocks: [{ ...b0, simMean: nan }, ...profile.blocks.slice(1)] }),
      BacError,
    );
  });

  describe('rejects, precisely', () => {
    it('a wrong magic', () => {
      assert.match(
        errorsOf(parseProfile(new TextEncoder().encode('{"format":"bacschedule"}'))),
        /^p\.bacprofile: magic: the file does not start with "BACPROF\\0"/,
      );
    });
    it('an unknown version', () => {
      const b = bytes.slice();
      new DataView(b.buffer).setUint32(8, 2, true);
      assert.match(errorsOf(parseProfile(b)), /version: version 2 is not supported, expected 1/);
    });
    it('a header running past the end', () => {
      assert.match(
        errorsOf(parseProfile(bytes.subarray(0, 40))),
        /header: header length \d+ runs past the end of the 40-byte file/,
      );
    });
    it('a header that is not JSON', () => {
      const b = bytes.slice();
      b[16] = 0x41;
      assert.match(errorsOf(parseProfile(b)), /header: is not valid UTF-8 JSON/);
    });
    it('a missing tail (truncated payload)', () => {
      assert.match(
        errorsOf(parseProfile(bytes.subarray(0, bytes.length - 4))),
        /header\.arrays\[11\]: bytes \d+…\d+ run past the \d+-byte payload/,
      );
    });
    it('trailing bytes', () => {
      const b = new Uint8Array(bytes.length + 4);
      b.set(bytes);
      assert.match(errorsOf(parseProfile(b)), /4 unexpected byte\(s\) after the last array/);
    });
    it('a non-finite similarity, naming block, matrix and entry', () => {
      const b = bytes.slice();
      const { payloadStart } = split(b);
      new DataView(b.buffer).setFloat32(payloadStart + 4 * 2, NaN, true); // 0.sa simMean (0, 2)
      assert.match(
        errorsOf(parseProfile(b)),
        /p\.bacprofile: 0\.sa\.simMean\[0\]\[2\]: NaN is not finite, expected a value in -1\.001…1\.001/,
      );
    });
    it('a similarity outside [-1, 1]', () => {
      const b = bytes.slice();
      const { payloadStart } = split(b);
      new DataView(b.buffer).setFloat32(payloadStart + 4 * triangleLength(12) + 4, -0.5, true); // 0.sa simStd (0, 1)
      assert.match(
        errorsOf(parseProfile(b)),
        /0\.sa\.simStd\[0\]\[1\]: -0\.5 is out of range, expected a value in 0…1\.001/,
      );
    });
    const headerCases: [string, (h: Json) => void, RegExp][] = [
      ['an unknown header key', (h) => (h.extra = 1), /header\.extra: unknown key "extra"/],
      ['a missing scalar', (h) => delete h.seed, /header\.seed: is missing/],
      [
        'K of wrong type',
        (h) => (h.sampler.steps = '12'),
        /header\.sampler\.steps: "12" is a string, expected an integer/,
      ],
      [
        'a bad model hash',
        (h) => (h.model.sha256 = 'x'),
        /header\.model\.sha256: "x" is a string, expected a lower-case hex sha256/,
      ],
      [
        'a bad date',
        (h) => (h.createdAt = 'yesterday'),
        /header\.createdAt: "yesterday" is a string, expected an ISO-8601 time/,
      ],
      [
        'an id disagreeing with layer/kind',
        (h) => (h.blocks[1].kind = 'ffn'),
        /header\.blocks\[1\]\.id: "0\.ca" disagrees with layer 0 and kind "ffn"/,
      ],
      ['a negative ℓ1', (h) => (h.blocks[0].l1Mean = -1), /header\.blocks\[0\]\.l1Mean: -1 is out of range/],
      ['ℓ averaged over 0 elements', (h) => (h.l1Elements = 0), /header\.l1Elements: 0 is out of range/],
      ['a missing block', (h) => h.blocks.splice(2, 1), /header\.blocks: block "0\.ffn" is missing/],
      [
        'a wrong array length',
        (h) => (h.arrays[0].length = 144),
        /header\.arrays\[0\]\.length: 144 values, expected K\(K\+1\)\/2 = 78/,
      ],
      ['a misaligned array', (h) => (h.arrays[0].offset = 2), /header\.arrays\[0\]\.offset: 2 is not a multiple of 4/],
      ['a missing array', (h) => h.arrays.pop(), /header\.arrays: array "1\.ffn\.simStd" is missing/],
      [
        'an array listed twice',
        (h) => (h.arrays[1].name = '0.sa.simMean'),
        /header\.arrays\[1\]\.name: "0\.sa\.simMean" is listed twice/,
      ],
      [
        'an array of no block',
        (h) => (h.arrays[1].name = '9.sa.simMean'),
        /header\.arrays\[1\]\.name: "9\.sa\.simMean" is not an array of a listed block/,
      ],
    ];
    for (const [name, edit, re] of headerCases) {
      it(name, () => assert.match(errorsOf(parseProfile(withHeader(bytes, edit))), re));
    }

    // #12 defect 9: what JSON.parse let through.
    const textCases: [string, (text: string) => string, RegExp][] = [
      ['a duplicate key', (t) => t.replace('"seed":', '"seed":1,"seed":'), /header\.seed: duplicate key/],
      [
        'createdAt "1"',
        (t) => t.replace(/"createdAt":"[^"]*"/, '"createdAt":"1"'),
        /header\.createdAt: "1" is a string/,
      ],
      ['seed 1e-400', (t) => t.replace(/"seed":\d+/, '"seed":1e-400'), /header\.seed: 1e-400 is not an integer/],
      [
        'K 12.0000000000000001',
        (t) => t.replace('"steps":12', '"steps":12.0000000000000001'),
        /header\.sampler\.steps: 12\.0000000000000001 is not an integer/,
      ],
    ];
    for (const [name, rewrite, re] of textCases) {
      it(`refuses ${name}`, () =>
        assert.match(errorsOf(parseProfile(withHeader(bytes, () => undefined, rewrite))), re));
    }
    it('still reads exact spellings of integers (seed 7e0)', () => {
      const r = parseProfile(
        withHeader(
          bytes,
          () => undefined,
          (t) => t.replace(/"seed":\d+/, '"seed":7e0'),
        ),
      );
      assert.ok(r.ok && r.profile.seed === 7);
    });
  });

  describe('fuzzing: never throws', () => {
    const big = serializeProfile(syntheticProfile({ layers: 2, steps: 30, seed: 9 }));
    it('on the file truncated at every 97th byte', () => {
      for (let n = 0; n < big.length; n += 97) {
        const r = parseProfile(big.subarray(0, n));
        assert.equal(r.ok, false, `prefix ${n}`);
        if (!r.ok) assert.ok(r.errors.length > 0 && r.errors.every((e) => e.message.length > 0));
      }
    });
    it('on 2000 files with random byte flips', () => {
      const rand = seededRandom(7);
      const { payloadStart } = split(big);
      let rejected = 0;
      for (let t = 0; t < 2000; t++) {
        const b = big.slice();
        // Half the trials hit the preamble and header, where structure lives.
        const span = t % 2 === 0 ? payloadStart : b.length;
        for (let k = 0, n = 1 + Math.floor(rand() * 3); k < n; k++) {
          const at = Math.floor(rand() * span);
          b[at] = b[at]! ^ (1 << Math.floor(rand() * 8));
        }
        const r = parseProfile(b);
        if (r.ok) {
          for (const blk of r.profile.blocks) assert.equal(blk.simMean.length, r.profile.sampler.steps ** 2);
        } else {
          rejected++;
          formatIssues('p', r.errors);
        }
      }
      assert.ok(rejected > 500, `${rejected} rejected`);
    });
    it('on random garbage and on non-Uint8Array-aligned views', () => {
      const rand = seededRandom(3);
      for (let t = 0; t < 200; t++) {
        const g = new Uint8Array(Math.floor(rand() * 200));
        for (let i = 0; i < g.length; i++) g[i] = Math.floor(rand() * 256);
        if (t % 2 === 0) g.set(PROFILE_MAGIC.subarray(0, Math.min(8, g.length)));
        assert.equal(parseProfile(g).ok, false);
      }
      const shifted = new Uint8Array(big.length + 1);
      shifted.set(big, 1);
      assert.ok(parseProfile(shifted.subarray(1)).ok, 'reads from an odd byteOffset');
    });
  });
});
