/**
 * The user's status quo: the same policy sampled in PyTorch eager (python/bench_runtime.py's plain
 * DDPM-100 chunk at batch 1, one thread), measured in a separate process during the run of a demo
 * or replication script. Null with the reason when it cannot be measured here (no Python torch, no
 * checkpoint).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** What python/bench_runtime.py measured, or why nothing was. */
export type PytorchEager =
  | {
      readonly measured: true;
      readonly chunkMs: number;
      readonly cpuMs: number;
      readonly runs: number;
      readonly torch: string;
    }
  | { readonly measured: false; readonly why: string };

/** Runs python/bench_runtime.py --json (plain and patched runs alternate; only the plain one is used). */
export function measurePytorchEager(root: string, runs = 3): PytorchEager {
  const script = resolve(root, 'python/bench_runtime.py');
  if (!existsSync(resolve(root, 'fixtures/demo/policy_ema.pt')))
    return { measured: false, why: 'fixtures/demo/policy_ema.pt (the PyTorch checkpoint) is missing' };
  const r = spawnSync('/usr/bin/python3', [script, '--json', '--runs', String(runs)], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  });
  if (r.status !== 0)
    return {
      measured: false,
      why: `python/bench_runtime.py failed (${r.stderr.trim().split('\n').pop() ?? r.status})`,
    };
  const j = JSON.parse(r.stdout) as { plain_median_ms: number; plain_cpu_median_ms: number; torch: string };
  return { measured: true, chunkMs: j.plain_median_ms, cpuMs: j.plain_cpu_median_ms, runs, torch: j.torch };
}

/** One line for tables' footers: the status quo against the ONNX full model measured in the same run. */
export function describePytorchEager(p: PytorchEager, onnxFullChunkMs: number): string {
  if (!p.measured) return `PyTorch eager (status quo): not measured in this run — ${p.why}.`;
  return `PyTorch eager (status quo, torch ${p.torch}, DDPM-100 full model, batch 1, 1 thread): ${p.chunkMs.toFixed(1)} ms per chunk (median of ${p.runs}, measured in this run by python/bench_runtime.py in a separate process); the ONNX full model at ${onnxFullChunkMs.toFixed(1)} ms is ${(p.chunkMs / onnxFullChunkMs).toFixed(2)}× faster before any caching or fewer steps.`;
}
