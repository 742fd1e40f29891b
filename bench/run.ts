/**
 * `npm run bench`: speed targets measured in one run and reported against their targets, never
 * asserted in tests. Each line: what, median time, target, and target/measured (≥ 1 meets it).
 */
import { performance } from 'node:perf_hooks';
import { solveSchedule } from '../src/core/solve';
import { tradeoffCurves } from '../src/core/tradeoff';
import { syntheticProfile } from './synthetic';

interface Result {
  readonly name: string;
  readonly medianMs: number;
  readonly targetMs: number;
}

function measure(name: string, targetMs: number, runs: number, fn: () => void): Result {
  fn(); // warm-up: JIT and allocations
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { name, medianMs: times[Math.floor(times.length / 2)]!, targetMs };
}

const profile = syntheticProfile(8, 100);
const results: Result[] = [
  measure('solve BAC, 24 blocks, K=100, M=10, top-n 3', 20, 21, () => {
    solveSchedule(profile, { budget: 10, topN: 3, forceLast: true, profile: null }, profile.model);
  }),
  measure('Pareto sweep M=1…100, 24 blocks (BAC + Uniform curves)', 1000, 5, () => {
    tradeoffCurves(profile, 3, true);
  }),
];

console.log(`BAC Studio benchmarks (node ${process.version}, ${process.platform}-${process.arch})`);
console.log('target/measured ≥ 1 meets the target\n');
const width = Math.max(...results.map((r) => r.name.length));
for (const r of results) {
  const ratio = r.targetMs / r.medianMs;
  console.log(
    `${r.name.padEnd(width)}  ${r.medianMs.toFixed(2).padStart(9)} ms  target ≤ ${String(r.targetMs).padStart(5)} ms  ratio ${ratio.toFixed(2)}${ratio >= 1 ? '' : '  (misses target)'}`,
  );
}
