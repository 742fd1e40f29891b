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

/** Denoiser calls of python/bench_runtime.py's plain chunk (DDPM, K = 100). */
const EAGER_STEPS = 100;

/**
 * One line for tables' footers: the status quo against the ONNX full model measured in the same
 * run. When that ONNX chunk runs another K (`onnx.steps`), chunks are not comparable; the line
 * compares per denoiser call instead, so fewer steps are not counted as the runtime's speedup.
 */
export function describePytorchEager(
  p: PytorchEager,
  onnxFullChunkMs: number,
  onnx: { readonly label: string; readonly steps: number } = { label: 'DDPM-100', steps: EAGER_STEPS },
): string {
  if (!p.measured) return `PyTorch eager (status quo): not measured in this run — ${p.why}.`;
  const head = `PyTorch eager (status quo, torch ${p.torch}, DDPM-100 full model, batch 1, 1 thread): ${p.chunkMs.toFixed(1)} ms per chunk (median of ${p.runs}, measured in this run by python/bench_runtime.py in a separate process)`;
  if (onnx.steps === EAGER_STEPS)
    return `${head}; the ONNX full model at ${onnxFullChunkMs.toFixed(1)} ms is ${(p.chunkMs / onnxFullChunkMs).toFixed(2)}× faster before any caching or fewer steps.`;
  const eagerCall = p.chunkMs / EAGER_STEPS;
  const onnxCall = onnxFullChunkMs / onnx.steps;
  return `${head}, ${eagerCall.toFixed(2)} ms per denoiser call; the ONNX full model (${onnx.label}, ${onnxFullChunkMs.toFixed(1)} ms per chunk) takes ${onnxCall.toFixed(2)} ms per call, ${(eagerCall / onnxCall).toFixed(2)}× faster per call before any caching (the rest of its chunk's speed is the fewer steps).`;
}
