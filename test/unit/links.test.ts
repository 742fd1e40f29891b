import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { serializeProfile } from '../../src/core/profile-format';
import { solveSchedule } from '../../src/core/solve';
import type { Schedule } from '../../src/core/types';
import { sha256Bytes } from '../../src/engine/fsutil';
import { relativePosix, resolveStored } from '../../src/extension/files';
import { LinkResolver } from '../../src/extension/links';
import { tinyProfile } from './helpers/tiny-profile';

const dir = mkdtempSync(join(tmpdir(), 'bac-links-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const modelBytes = new TextEncoder().encode('not really onnx');
writeFileSync(join(dir, 'm.onnx'), modelBytes);
const modelRef = { path: 'm.onnx', sha256: sha256Bytes(modelBytes) };
const profile = { ...tinyProfile(2, 12), model: modelRef };
const profileBytes = serializeProfile(profile);
writeFileSync(join(dir, 'm.bacprofile'), profileBytes);
const schedulePath = join(dir, 'm.bacschedule');
const linked = (path: string, sha256 = sha256Bytes(profileBytes)): Schedule =>
  solveSchedule(profile, { budget: 4, topN: 1, forceLast: true, profile: { path, sha256 } }, modelRef);

describe('LinkResolver.profile', () => {
  it('finds a linked profile whose sha256 matches', async () => {
    const r = await new LinkResolver().profile(schedulePath, linked('m.bacprofile'));
    assert.equal(r.status.state, 'ok');
    assert.equal(r.profile?.blocks.length, 6);
    assert.equal(r.sha256, sha256Bytes(profileBytes));
  });

  it('explains each way a profile cannot be used, with the fix', async () => {
    const links = new LinkResolver();
    const none = await links.profile(schedulePath, {
      ...linked('x'),
      solver: { ...linked('x').solver, profile: null },
    });
    assert.equal(none.status.state, 'none');
    assert.match(none.status.message, /links no profile/);
    const missing = await links.profile(schedulePath, linked('gone.bacprofile'));
    assert.equal(missing.status.state, 'missing');
    assert.match(missing.status.message, /gone\.bacprofile was not found.*BAC: Profile Model/);
    const mismatch = await links.profile(schedulePath, linked('m.bacprofile', 'f'.repeat(64)));
    assert.equal(mismatch.status.state, 'mismatch');
    assert.match(mismatch.status.message, /changed since this schedule was solved/);
    const unsaved = await links.profile(null, linked('m.bacprofile'));
    assert.equal(unsaved.status.state, 'unsaved');
    assert.equal(missing.profile, null);
  });

  it('reports an unreadable profile and one of another shape', async () => {
    const junk = new TextEncoder().encode('junk');
    writeFileSync(join(dir, 'junk.bacprofile'), junk);
    const links = new LinkResolver();
    const invalid = await links.profile(schedulePath, linked('junk.bacprofile', sha256Bytes(junk)));
    assert.equal(invalid.status.state, 'invalid');
    const other = serializeProfile({ ...tinyProfile(2, 8), model: modelRef });
    writeFileSync(join(dir, 'other.bacprofile'), other);
    const incompatible = await links.profile(schedulePath, linked('other.bacprofile', sha256Bytes(other)));
    assert.equal(incompatible.status.state, 'incompatible');
    assert.match(incompatible.status.message, /K = 8/);
  });
});

describe('LinkResolver.model', () => {
  it('tells a present, a missing and a changed model apart', async () => {
    const links = new LinkResolver();
    const s = linked('m.bacprofile');
    assert.equal((await links.model(schedulePath, s)).state, 'ok');
    assert.equal(
      (await links.model(schedulePath, { ...s, model: { ...modelRef, path: 'nope.onnx' } })).state,
      'missing',
    );
    const changed = await links.model(schedulePath, { ...s, model: { ...modelRef, sha256: '0'.repeat(64) } });
    assert.equal(changed.state, 'changed');
    assert.match(changed.message, /re-?profile|Profile Model/i);
    assert.equal((await links.model(null, s)).state, 'unknown');
  });

  it('re-hashes a model after it changes on disk', async () => {
    const links = new LinkResolver();
    const s = linked('m.bacprofile');
    const path = join(dir, 'm2.onnx');
    writeFileSync(path, modelBytes);
    const s2 = { ...s, model: { path: 'm2.onnx', sha256: modelRef.sha256 } };
    assert.equal((await links.model(schedulePath, s2)).state, 'ok');
    writeFileSync(path, 'changed bytes, different length');
    links.invalidate(path);
    assert.equal((await links.model(schedulePath, s2)).state, 'changed');
  });
});

describe('stored paths', () => {
  it('resolves POSIX paths stored in BAC files and writes them back relative', () => {
    assert.equal(resolveStored('/a/b', '../c/d.onnx'), join('/a/b', '..', 'c', 'd.onnx'));
    assert.equal(resolveStored('/a/b', '/abs/x.onnx'), '/abs/x.onnx');
    assert.equal(relativePosix('/a/b', '/a/c/d.onnx'), '../c/d.onnx');
  });
});
