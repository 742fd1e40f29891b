/**
 * `npm run test:linux-arm64`: the linux-arm64 VSIX works where robots run (a Jetson over Remote-SSH),
 * checked under qemu emulation on an x64 machine against the linux-x64 VSIX.
 *
 * Both VSIXs (out/vsix/, packaged first when absent) are unpacked; the CLI each carries
 * (`node extension/bin/bac.js`) runs on the demo policy, the x64 one under this Node, the arm64 one
 * under Node for arm64 (arm64-emulation.ts), provider cpu on both:
 *   bac info      the demo schedule and profile: identical text;
 *   bac profile   2 held-out samples, seed 0: every similarity and reuse-error statistic within 1e-4
 *                 (relative above 1), FLOPs identical;
 *   bac solve     each its own profile, budget 10: the same update steps for every block;
 *   bac eval      the x64 schedule and profile on both, 1 sample: the same rows and update counts,
 *                 action errors within 1e-4.
 * Measured speeds are not compared: emulation says nothing about an ARM CPU's speed.
 *
 * Where the emulation cannot run the check is skipped and says why (last line
 * `linux-arm64 check: SKIPPED — …`); with BAC_REQUIRE_ARM64=1 (set by .ci/run, which installs
 * the packages) missing packages fail instead, and only an unregistrable binfmt skips.
 * Exit code 0 when passed or skipped, 1 otherwise; the last line says which and how long it took.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProfile } from '../../src/core/profile-format';
import { parseSchedule } from '../../src/core/schedule-format';
import type { Profile, Schedule } from '../../src/core/types';
import { arm64Node, ensureBinfmt, missingPackages, type Unavailable } from './arm64-emulation';
import { packageVsixes, REPO_ROOT } from './package-vsix';
import { findTarget, vsixPath } from './vsix-targets';
import { openZip, unpackZip } from './zip';

/** The comparison tolerance of the profile statistics and the action errors. */
export const TOLERANCE = 1e-4;
/** One emulated command may take this long before the check fails (2 cores, busy machine). */
const COMMAND_TIMEOUT_MS = 15 * 60_000;
/**
 * The emulated CPU: a Cortex-A76, ARMv8.2-A like the Jetson Orin's Cortex-A78AE (and Xavier's
 * Carmel), without SVE. qemu's default `max` CPU has SVE, which sends ONNX Runtime down kernels
 * that emulate about ten times slower and that no Jetson runs. Inherited by the forked worker.
 */
const QEMU_CPU = 'cortex-a76';

const DEMO = join(REPO_ROOT, 'fixtures', 'demo');
const EPISODES = join(DEMO, 'episodes', 'heldout.hdf5');

function log(message: string): void {
  console.log(`[linux-arm64] ${message}`);
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** One side of the comparison: a Node and the CLI of an unpacked VSIX. */
interface Side {
  readonly arch: 'x64' | 'arm64';
  readonly node: string;
  readonly bac: string;
  /** The environment it runs in. */
  readonly env: NodeJS.ProcessEnv;
  /** Seconds each command took, for the log. */
  readonly took: Map<string, number>;
}

function bac(side: Side, label: string, cwd: string, args: string[]): string {
  const t0 = Date.now();
  const r = spawnSync(side.node, [side.bac, ...args], {
    cwd,
    env: side.env,
    encoding: 'utf8',
    timeout: COMMAND_TIMEOUT_MS,
    maxBuffer: 64 << 20,
  });
  side.took.set(label, (side.took.get(label) ?? 0) + (Date.now() - t0));
  if (r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}`;
    throw new Error(`${side.arch}: bac ${args.join(' ')} failed: ${why}\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

function readProfile(file: string): Profile {
  const r = parseProfile(readFileSync(file));
  if (!r.ok) throw new Error(`${file} does not parse: ${r.errors.map((e) => e.message).join('; ')}`);
  return r.profile;
}

function readSchedule(file: string): Schedule {
  const r = parseSchedule(readFileSync(file, 'utf8'));
  if (!r.ok) throw new Error(`${file} does not parse: ${r.errors.map((e) => e.message).join('; ')}`);
  return r.schedule;
}

/** |a − b| scaled by max(1, |a|, |b|): absolute for similarities, relative for larger errors. */
const gap = (a: number, b: number): number => Math.abs(a - b) / Math.max(1, Math.abs(a), Math.abs(b));

/** The largest gap between the two profiles' statistics; throws when their shapes or FLOPs differ. */
export function profileGap(x: Profile, a: Profile): { worst: number; where: string } {
  if (x.blocks.length !== a.blocks.length || x.sampler.steps !== a.sampler.steps) {
    throw new Error(
      `the profiles differ in shape: ${x.blocks.length} vs ${a.blocks.length} blocks, K ${x.sampler.steps} vs ${a.sampler.steps}`,
    );
  }
  let worst = 0;
  let where = '';
  const see = (g: number, w: string): void => {
    if (g > worst || Number.isNaN(g)) [worst, where] = [Number.isNaN(g) ? Infinity : g, w];
  };
  x.blocks.forEach((xb, i) => {
    const ab = a.blocks[i]!;
    if (xb.id !== ab.id || xb.cost.flops !== ab.cost.flops)
      throw new Error(`block ${i}: ${xb.id}/${xb.cost.flops} FLOPs vs ${ab.id}/${ab.cost.flops}`);
    for (let j = 0; j < xb.simMean.length; j++) {
      see(gap(xb.simMean[j]!, ab.simMean[j]!), `${xb.id} simMean[${j}]`);
      see(gap(xb.simStd[j]!, ab.simStd[j]!), `${xb.id} simStd[${j}]`);
    }
    see(gap(xb.l1Mean, ab.l1Mean), `${xb.id} l1Mean`);
    see(gap(xb.l1Std, ab.l1Std), `${xb.id} l1Std`);
  });
  return { worst, where };
}

/** Blocks whose solved update steps differ between the two schedules. */
export function scheduleDifferences(x: Schedule, a: Schedule): string[] {
  const steps = (s: Schedule): Map<string, string> =>
    new Map(s.blocks.map((b) => [b.id, `acs ${b.acs.join(',')} bua ${b.bua.join(',')}`]));
  const xs = steps(x);
  const as = steps(a);
  const ids = new Set([...xs.keys(), ...as.keys()]);
  return [...ids]
    .filter((id) => xs.get(id) !== as.get(id))
    .map((id) => `${id}: x64 ${xs.get(id)} | arm64 ${as.get(id)}`);
}

interface EvalRow {
  readonly name: string;
  readonly updates: number;
  readonly actionErrorMean: number;
  readonly actionErrorMax: number;
}

/** Differences between two `bac eval --json` results beyond {@link TOLERANCE}, and the largest gap. */
export function evalDifferences(x: readonly EvalRow[], a: readonly EvalRow[]): { problems: string[]; worst: number } {
  const problems: string[] = [];
  let worst = 0;
  if (x.map((r) => r.name).join('|') !== a.map((r) => r.name).join('|')) {
    problems.push(`rows differ: ${x.map((r) => r.name).join(', ')} vs ${a.map((r) => r.name).join(', ')}`);
    return { problems, worst: Infinity };
  }
  x.forEach((xr, i) => {
    const ar = a[i]!;
    if (xr.updates !== ar.updates) problems.push(`${xr.name}: ${xr.updates} vs ${ar.updates} updates`);
    for (const key of ['actionErrorMean', 'actionErrorMax'] as const) {
      const g = gap(xr[key], ar[key]);
      worst = Math.max(worst, g);
      if (!(g <= TOLERANCE)) problems.push(`${xr.name} ${key}: ${xr[key]} vs ${ar[key]}`);
    }
  });
  return { problems, worst };
}

/** Unpacks the target's VSIX into `dir`; returns its CLI entry. */
function unpack(target: string, dir: string): string {
  unpackZip(openZip(vsixPath(REPO_ROOT, target)), dir);
  return join(dir, 'extension', 'bin', 'bac.js');
}

function check(armNode: string, work: string): void {
  const absent = ['linux-x64', 'linux-arm64'].filter((t) => !existsSync(vsixPath(REPO_ROOT, t)));
  if (absent.length > 0) {
    log(`packaging ${absent.join(', ')} (not in out/vsix/)`);
    packageVsixes(absent.map(findTarget));
  }
  const sides: Side[] = [
    {
      arch: 'x64',
      node: process.execPath,
      bac: unpack('linux-x64', join(work, 'vsix-x64')),
      env: process.env,
      took: new Map(),
    },
    {
      arch: 'arm64',
      node: armNode,
      bac: unpack('linux-arm64', join(work, 'vsix-arm64')),
      env: { ...process.env, QEMU_CPU },
      took: new Map(),
    },
  ];
  copyFileSync(join(DEMO, 'policy.onnx'), join(work, 'policy.onnx'));
  const infos = new Map<string, string[]>();
  for (const side of sides) {
    const dir = join(work, side.arch);
    mkdirSync(dir);
    log(`${side.arch}: bac info, bac profile (2 samples), bac solve`);
    infos.set(side.arch, [
      bac(side, 'info', dir, ['info', join(DEMO, 'policy.bacschedule')]),
      bac(side, 'info', dir, ['info', join(DEMO, 'policy.bacprofile')]),
    ]);
    const profile = ['profile', '--model', '../policy.onnx', '--episodes', EPISODES, '--samples', '2', '--seed', '0'];
    bac(side, 'profile', dir, [...profile, '--ep', 'cpu', '--out', 'p.bacprofile']);
    bac(side, 'solve', dir, ['solve', 'p.bacprofile', '--budget', '10', '--out', 's.bacschedule']);
  }
  // Both evaluate the x64 schedule (and its profile, for the baselines), each from its own copy.
  const evals = new Map<string, EvalRow[]>();
  for (const side of sides) {
    const dir = join(work, `eval-${side.arch}`);
    mkdirSync(dir);
    for (const f of ['p.bacprofile', 's.bacschedule']) copyFileSync(join(work, 'x64', f), join(dir, f));
    log(`${side.arch}: bac eval --samples 1 (the x64 schedule)`);
    const out = bac(side, 'eval', dir, [
      'eval',
      's.bacschedule',
      '--episodes',
      EPISODES,
      '--samples',
      '1',
      '--ep',
      'cpu',
      '--json',
    ]);
    evals.set(side.arch, (JSON.parse(out) as { results: EvalRow[] }).results);
  }

  const problems: string[] = [];
  const [xInfo, aInfo] = [infos.get('x64')!, infos.get('arm64')!];
  if (xInfo.join('\n') !== aInfo.join('\n')) problems.push('bac info prints differently on arm64');
  const pg = profileGap(
    readProfile(join(work, 'x64', 'p.bacprofile')),
    readProfile(join(work, 'arm64', 'p.bacprofile')),
  );
  log(`profile statistics: largest gap ${pg.worst.toExponential(1)} (${pg.where}), tolerance ${TOLERANCE}`);
  if (!(pg.worst <= TOLERANCE)) problems.push(`profile statistics differ by ${pg.worst} at ${pg.where}`);
  const sd = scheduleDifferences(
    readSchedule(join(work, 'x64', 's.bacschedule')),
    readSchedule(join(work, 'arm64', 's.bacschedule')),
  );
  log(`solved schedules: ${sd.length === 0 ? 'the same update steps in every block' : `${sd.length} blocks differ`}`);
  problems.push(...sd.map((d) => `schedule ${d}`));
  const ed = evalDifferences(evals.get('x64')!, evals.get('arm64')!);
  log(
    `eval: ${evals.get('x64')!.length} rows, largest action-error gap ${ed.worst.toExponential(1)}, tolerance ${TOLERANCE}`,
  );
  problems.push(...ed.problems.map((p) => `eval ${p}`));
  for (const side of sides) {
    log(
      `${side.arch} times: ${[...side.took].map(([k, ms]) => `${k} ${seconds(ms)}`).join(', ')}${side.arch === 'arm64' ? ' (emulated)' : ''}`,
    );
  }
  if (problems.length > 0) throw new Error(`linux-arm64 differs from linux-x64:\n  ${problems.join('\n  ')}`);
}

/** Prints the skip (or, for missing packages under BAC_REQUIRE_ARM64=1, the failure); the exit code. */
function unavailable(u: Unavailable): number {
  if (u.kind === 'packages' && process.env.BAC_REQUIRE_ARM64 === '1') {
    console.error(`linux-arm64 check: FAILED — ${u.why} (BAC_REQUIRE_ARM64=1)`);
    return 1;
  }
  console.log(`linux-arm64 check: SKIPPED — ${u.why}`);
  return 0;
}

function main(): number {
  const t0 = Date.now();
  const noPackages = missingPackages();
  if (noPackages) return unavailable(noPackages);
  const work = mkdtempSync(join(tmpdir(), 'bac-arm64-check-'));
  // Interrupted (CI timeout, Ctrl-C): leave no unpacked VSIXs behind. The children get the signal too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      rmSync(work, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  try {
    const armNode = arm64Node(log);
    const noBinfmt = ensureBinfmt(armNode);
    if (noBinfmt) return unavailable(noBinfmt);
    check(armNode, work);
    console.log(`linux-arm64 check: passed in ${seconds(Date.now() - t0)}`);
    return 0;
  } catch (e) {
    console.error(`[linux-arm64] ${e instanceof Error ? e.message : String(e)}`);
    console.log(`linux-arm64 check: FAILED after ${seconds(Date.now() - t0)}`);
    return 1;
  } finally {
    if (process.env.BAC_TEST_KEEP_DATA) log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) process.exitCode = main();
