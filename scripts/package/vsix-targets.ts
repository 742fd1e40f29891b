/**
 * The platform VSIXs: one per VS Code target, each carrying only its platform's onnxruntime-node
 * binaries, and the rules every archive must satisfy (checked after packaging and by
 * test/packaging/vsix.test.ts).
 *
 * Which files a platform needs (onnxruntime-node 1.30, napi-v6), from the binaries' import tables:
 * - linux: onnxruntime_binding.node links libonnxruntime.so.1 (CPU, plus WebGPU built in; the
 *   CUDA provider libraries are a separate download that the offline install skips).
 * - darwin-arm64: the binding links `@rpath/libonnxruntime.1.dylib`; the npm package also ships
 *   an identical libonnxruntime.1.30.0.dylib (a flattened symlink) that nothing loads, so it stays out.
 * - win32-x64: the binding links onnxruntime.dll, which links DirectML.dll (DirectML provider) and
 *   dxcompiler.dll + dxil.dll (the WebGPU provider's D3D12 shader compiler).
 * Providers per platform (onnxruntime-node's README table): linux-x64 cpu, webgpu, cuda (separate
 * download); linux-arm64 cpu only; darwin-arm64 cpu, webgpu, coreml; win32-x64 cpu, dml, webgpu.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openZip, type ZipArchive, type ZipEntry } from './zip';

/** Where onnxruntime-node keeps its native folders, relative to the repository (and the VSIX's extension/). */
export const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6/';

/** Where `npm run package` writes its VSIXs, relative to the repository. */
export const VSIX_DIR = 'out/vsix';

/** Size limit of one VSIX in megabytes (10^6 bytes). */
export const SIZE_LIMIT_MB = 70;

/** One VS Code target platform. */
export interface VsixTarget {
  /** vsce's `--target` and the manifest's TargetPlatform, e.g. `linux-arm64`. */
  readonly target: string;
  /** onnxruntime-node's folder for it, under {@link ORT_BIN}: `<process.platform>/<process.arch>`. */
  readonly ortDir: string;
  /** The files of that folder the VSIX carries (every one is required). */
  readonly binaries: readonly string[];
}

export const TARGETS: readonly VsixTarget[] = [
  {
    target: 'linux-x64',
    ortDir: 'linux/x64',
    binaries: ['onnxruntime_binding.node', 'libonnxruntime.so.1'],
  },
  {
    target: 'linux-arm64',
    ortDir: 'linux/arm64',
    binaries: ['onnxruntime_binding.node', 'libonnxruntime.so.1'],
  },
  {
    target: 'darwin-arm64',
    ortDir: 'darwin/arm64',
    binaries: ['onnxruntime_binding.node', 'libonnxruntime.1.dylib'],
  },
  {
    target: 'win32-x64',
    ortDir: 'win32/x64',
    binaries: ['onnxruntime_binding.node', 'onnxruntime.dll', 'DirectML.dll', 'dxcompiler.dll', 'dxil.dll'],
  },
];

/** The target named `name`; throws with the list of valid names otherwise. */
export function findTarget(name: string): VsixTarget {
  const t = TARGETS.find((x) => x.target === name);
  if (!t)
    throw new Error(
      `unknown target ${JSON.stringify(name)}: expected one of ${TARGETS.map((x) => x.target).join(', ')}`,
    );
  return t;
}

/** `<name>-<target>-<version>.vsix` (vsce's own naming), from the repository's package.json. */
export function vsixFileName(repoRoot: string, target: string): string {
  const { name, version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  return `${name}-${target}-${version}.vsix`;
}

/** The VSIX path of `target` in {@link VSIX_DIR}. */
export function vsixPath(repoRoot: string, target: string): string {
  return join(repoRoot, VSIX_DIR, vsixFileName(repoRoot, target));
}

/** The target's binaries as repository paths (what the ignore file lets in). */
export function binaryPaths(t: VsixTarget): string[] {
  return t.binaries.map((b) => `${ORT_BIN}${t.ortDir}/${b}`);
}

/** Files every VSIX must carry, relative to its extension/ folder. */
export const REQUIRED_FILES = [
  'package.json',
  'bin/bac.js',
  'dist/extension.js',
  'dist/cli.js',
  'dist/profile-worker.js',
  'dist/measure-worker.js',
  'dist/tune-worker.js',
  'dist/webview.js',
  'node_modules/onnxruntime-node/package.json',
  'node_modules/onnxruntime-node/dist/index.js',
  'node_modules/onnxruntime-common/package.json',
  'node_modules/onnxruntime-common/dist/cjs/index.js',
];

const NATIVE = /\.(node|so(\.\d+)*|dylib|dll)$/;
const SOURCES = /^(src|test|webview|python|fixtures|scripts|bench)\//;

/** What an archive holds, as {@link vsixProblems} reads it. */
export interface VsixContents {
  /** Entry names, e.g. `extension/dist/cli.js`. */
  readonly entries: readonly ZipEntry[];
  /** extension.vsixmanifest, as text. */
  readonly manifest: string;
  /** extension/package.json, parsed. */
  readonly packageJson: { readonly extensionKind?: unknown };
  /** The archive's size in bytes. */
  readonly bytes: number;
}

/** Opens the VSIX `file` and reads what {@link vsixProblems} checks. */
export function readVsix(file: string): VsixContents & { readonly zip: ZipArchive } {
  const zip = openZip(file);
  return {
    zip,
    entries: zip.entries,
    manifest: zip.read('extension.vsixmanifest').toString('utf8'),
    packageJson: JSON.parse(zip.read('extension/package.json').toString('utf8')) as { extensionKind?: unknown },
    bytes: zip.bytes,
  };
}

/**
 * Everything wrong with a VSIX built for `t`: a missing required file or binary, a native file of
 * another platform (or anywhere outside `t`'s ORT folder), sources or source maps, a manifest
 * without `TargetPlatform="<target>"`, an extensionKind other than `["workspace"]`, or a size over
 * {@link SIZE_LIMIT_MB}. Empty when the archive is right.
 */
export function vsixProblems(t: VsixTarget, vsix: VsixContents): string[] {
  const names = new Set(vsix.entries.map((e) => e.name));
  const inExt = [...names].filter((n) => n.startsWith('extension/')).map((n) => n.slice('extension/'.length));
  const own = new Set(binaryPaths(t));
  const problems: string[] = [];
  for (const f of [...REQUIRED_FILES, ...own]) if (!names.has(`extension/${f}`)) problems.push(`missing ${f}`);
  for (const f of inExt) {
    if ((f.startsWith(ORT_BIN) || NATIVE.test(f)) && !own.has(f))
      problems.push(`carries ${f}: not a ${t.target} binary`);
    if (SOURCES.test(f) || f.endsWith('.map')) problems.push(`carries ${f}: sources, tests and source maps stay out`);
  }
  const platform = /TargetPlatform="([^"]*)"/.exec(vsix.manifest)?.[1];
  if (platform !== t.target) problems.push(`manifest TargetPlatform is ${platform ?? 'absent'}, expected ${t.target}`);
  if (JSON.stringify(vsix.packageJson.extensionKind) !== '["workspace"]') {
    problems.push(
      `package.json extensionKind is ${JSON.stringify(vsix.packageJson.extensionKind)}, expected ["workspace"]`,
    );
  }
  const mb = vsix.bytes / 1e6;
  if (mb > SIZE_LIMIT_MB) problems.push(`${mb.toFixed(1)} MB, over the ${SIZE_LIMIT_MB} MB limit`);
  return problems;
}
