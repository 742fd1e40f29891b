/**
 * Inspects the platform VSIXs in out/vsix/ (`npm run test:packaging` builds them first with
 * `npm run package:all`): each carries its platform's onnxruntime-node binaries and nothing of the
 * others, declares its target and `extensionKind: ["workspace"]`, and stays within 70 MB.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findTarget, ORT_BIN, readVsix, TARGETS, vsixPath, vsixProblems } from '../../scripts/package/vsix-targets';

const repo = join(__dirname, '..', '..');

function openBuilt(target: string): ReturnType<typeof readVsix> {
  const file = vsixPath(repo, target);
  assert.ok(existsSync(file), `${file} is missing: run \`npm run package:all\` first (npm run test:packaging does)`);
  return readVsix(file);
}

describe('platform VSIXs (out/vsix/)', () => {
  for (const t of TARGETS) {
    it(`${t.target}: its own ORT binaries only, target in the manifest, workspace extension, ≤ 70 MB`, () => {
      const vsix = openBuilt(t.target);
      assert.deepEqual(vsixProblems(t, vsix), []);
      const native = vsix.entries
        .map((e) => e.name)
        .filter((n) => n.startsWith(`extension/${ORT_BIN}`))
        .map((n) => n.slice(`extension/${ORT_BIN}`.length))
        .sort();
      assert.deepEqual(native, t.binaries.map((b) => `${t.ortDir}/${b}`).sort());
      assert.match(vsix.manifest, new RegExp(`TargetPlatform="${t.target}"`));
    });
  }

  it('the bundled CLI and the ORT JS come out of the archive intact', () => {
    const { zip } = openBuilt('linux-x64');
    const pkg = JSON.parse(zip.read('extension/node_modules/onnxruntime-node/package.json').toString('utf8')) as {
      name: string;
    };
    assert.equal(pkg.name, 'onnxruntime-node');
    assert.match(zip.read('extension/dist/cli.js').toString('utf8'), /runFromProcess/);
  });

  it('the check rejects an archive built for another platform', () => {
    const problems = vsixProblems(findTarget('linux-arm64'), openBuilt('linux-x64')).join('\n');
    assert.match(problems, /missing node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/arm64\/libonnxruntime\.so\.1/);
    assert.match(problems, /carries node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/x64\/libonnxruntime\.so\.1/);
    assert.match(problems, /TargetPlatform is linux-x64, expected linux-arm64/);
  });

  it('the check rejects a workspace-less manifest, stray native files, source maps and size', () => {
    const t = findTarget('win32-x64');
    const vsix = openBuilt('win32-x64');
    const stray = [
      {
        name: 'extension/node_modules/other/prebuilds/linux-x64/addon.node',
        method: 8,
        compressedSize: 1,
        size: 1,
        localOffset: 0,
      },
      { name: 'extension/dist/cli.js.map', method: 8, compressedSize: 1, size: 1, localOffset: 0 },
    ];
    const problems = vsixProblems(t, {
      ...vsix,
      entries: [...vsix.entries, ...stray],
      packageJson: {},
      bytes: 71e6,
    }).join('\n');
    assert.match(problems, /carries node_modules\/other\/prebuilds\/linux-x64\/addon\.node/);
    assert.match(problems, /carries dist\/cli\.js\.map/);
    assert.match(problems, /extensionKind is undefined/);
    assert.match(problems, /71\.0 MB, over the 70 MB limit/);
  });
});
