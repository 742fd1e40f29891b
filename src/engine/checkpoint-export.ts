import { spawn } from 'node:child_process';
import { readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Runs the Python exporter (python/bac_export.py) on a diffusion_policy checkpoint: finds a Python
 * that can import torch, runs the export as a child process, and cancels it cleanly. The exporter
 * writes its output atomically (temp file beside it, renamed at the end) and removes the temp file
 * on SIGTERM; after a SIGKILL this module removes the child's temp file itself, so a cancelled or
 * failed export never leaves a partial or temp file.
 */

/** Interpreters tried, in order, when no Python is configured. */
export const DEFAULT_PYTHONS: readonly string[] = ['python3', 'python', '/usr/bin/python3'];

/** Milliseconds a cancelled exporter gets to clean up after SIGTERM before it is killed. */
const KILL_GRACE_MS = 5000;

/** Runs `python args…`, resolving with its exit code (null: killed) and output; never rejects. */
export function runPython(
  python: string,
  args: readonly string[],
  options: { signal?: AbortSignal; onStdout?: (text: string) => void } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; pid?: number; spawnError?: string }> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | undefined;
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const abort = (): void => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      options.onStdout?.(d.toString());
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => resolve({ code: null, stdout, stderr, spawnError: e.message }));
    child.on('close', (code) => {
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', abort);
      resolve({ code, stdout, stderr, pid: child.pid });
    });
    if (options.signal?.aborted) abort();
    else options.signal?.addEventListener('abort', abort, { once: true });
  });
}

/** The first interpreter that imports torch: `configured` alone when given, else {@link DEFAULT_PYTHONS}. */
export async function findTorchPython(
  configured: string | undefined,
): Promise<{ python: string; torch: string } | { error: string }> {
  const candidates = configured ? [configured] : DEFAULT_PYTHONS;
  const tried: string[] = [];
  for (const python of candidates) {
    const r = await runPython(python, ['-c', 'import torch; print(torch.__version__)']);
    if (r.code === 0) return { python, torch: r.stdout.trim() };
    tried.push(r.spawnError ? `${python} (not found)` : `${python} (no torch)`);
  }
  return {
    error: configured
      ? `bac.pythonPath is ${configured}, which ${tried[0]?.endsWith('(not found)') ? 'does not run' : 'cannot import torch'}; point it to a Python with PyTorch installed`
      : `no Python with PyTorch found (tried ${tried.join(', ')}); install torch (Debian: python3-torch) or set bac.pythonPath`,
  };
}

/** What {@link exportCheckpoint} did. */
export type CheckpointExportOutcome =
  | { readonly ok: true; readonly out: string; readonly summary: string }
  | { readonly ok: false; readonly cancelled: boolean; readonly message: string; readonly details: string };

/**
 * Exports `checkpoint` to `out` with `python script --checkpoint … [--weights …] --out …`.
 * On abort the child gets SIGTERM (then SIGKILL) and any temp file it left is removed; `out` is
 * then untouched. The failure message is the exporter's one-line `bac_export: …` when it gave one.
 */
export async function exportCheckpoint(options: {
  readonly python: string;
  readonly script: string;
  readonly checkpoint: string;
  readonly out: string;
  readonly weights?: 'ema_model' | 'model';
  readonly signal?: AbortSignal;
}): Promise<CheckpointExportOutcome> {
  const { python, script, checkpoint, out, weights, signal } = options;
  // -B: no __pycache__ written into the extension's folder beside the script.
  const args = ['-B', script, '--checkpoint', checkpoint, ...(weights ? ['--weights', weights] : []), '--out', out];
  const r = await runPython(python, args, { signal });
  // Exit 0 means the output is complete, even when a cancellation arrived as the exporter finished.
  if (r.code === 0) return { ok: true, out, summary: r.stdout.trim().split('\n').pop() ?? '' };
  if (r.pid !== undefined) await removeTempFiles(out, r.pid);
  const details = `${python} ${args.join(' ')}\nexit ${r.code ?? 'killed'}\n${r.stderr}`;
  if (signal?.aborted) return { ok: false, cancelled: true, message: 'export cancelled', details };
  const line = r.stderr
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('bac_export: '));
  const message = r.spawnError
    ? `cannot run ${python} (${r.spawnError})`
    : line
      ? line.slice('bac_export: '.length)
      : `the exporter failed (exit ${r.code ?? 'killed'})`;
  return { ok: false, cancelled: false, message, details };
}

/** Removes `.<name>.<pid>.<hex>.tmp` beside `out`: the temp file of exporter process `pid`. */
async function removeTempFiles(out: string, pid: number): Promise<void> {
  const prefix = `.${basename(out)}.${pid}.`;
  const names = await readdir(dirname(out)).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => n.startsWith(prefix) && n.endsWith('.tmp'))
      .map((n) => unlink(join(dirname(out), n)).catch(() => undefined)),
  );
}
