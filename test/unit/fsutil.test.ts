/**
 * Temp files of atomic writes (src/engine/fsutil.ts): names within NAME_MAX bytes that say what
 * they are, and stale clean-up that removes only our own files of processes that no longer run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { NAME_MAX, removeStaleTemps, tempFileOwner, tempPathFor } from '../../src/engine/fsutil';

describe('atomic-write temp files', () => {
  it('fit NAME_MAX bytes for any legal target name and name the target and the pid', () => {
    for (const name of ['p.bacprofile', `${'a'.repeat(250)}.onnx`, `${'é'.repeat(125)}.onnx`, `${'😀'.repeat(63)}.x`]) {
      assert.ok(Buffer.byteLength(name) <= NAME_MAX, name);
      const temp = basename(tempPathFor(join('/some/dir', name)));
      assert.ok(Buffer.byteLength(temp) <= NAME_MAX, `${Buffer.byteLength(temp)} bytes`);
      assert.equal(tempFileOwner(temp), process.pid);
      assert.ok(temp.startsWith(`.${name.slice(0, 8)}`), temp);
      assert.ok(!temp.includes('\uFFFD'), 'cut on a code point boundary');
    }
    assert.equal(tempFileOwner('.p.bacprofile.123.tmp'), null);
    assert.equal(tempFileOwner('notes.bac-tmp'), null);
  });

  it("removes stale temp files of dead processes only, never other files or a live process's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bac-stale-'));
    try {
      // a pid that certainly ended: a child that already exited
      const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
      const files = [
        `.p.bacprofile.${dead}.0123abcd.bac-tmp`, // stale: removed
        `.p.bacprofile.${process.pid}.0123abcd.bac-tmp`, // ours, in flight: kept
        `.p.bacprofile.${dead}.0123abcd.tmp`, // not our pattern: kept
        `.hidden`,
        'p.bacprofile',
      ];
      for (const f of files) writeFileSync(join(dir, f), 'x');
      assert.deepEqual(await removeStaleTemps(dir), [files[0]]);
      assert.deepEqual(readdirSync(dir).sort(), files.slice(1).sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
