import { BLOCK_KINDS, type Schedule, type ScheduleBlock } from '../../../src/core/types';
import { seededRandom } from './synthetic-profile';

/** A random valid schedule: the fuzzing input of the format tests. O(B·K). */
export function randomSchedule(seed: number): Schedule {
  const rand = seededRandom(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const K = 1 + int(120);
  const layers = 1 + int(4);
  const hex = (): string => Array.from({ length: 64 }, () => '0123456789abcdef'[int(16)]).join('');
  const names = ['model.onnx', '../models/pusht dp-t.onnx', 'weird "quoted"\\name.onnx', 'ünï/cödé.onnx'];
  const cost = () => ({ flops: int(3) === 0 ? 0 : int(1e9), timeUs: int(3) === 0 ? 0 : int(1e6) / 1000 });
  const blocks: ScheduleBlock[] = [];
  for (let layer = 0; layer < layers; layer++) {
    for (const kind of BLOCK_KINDS) {
      const sets: Record<'acs' | 'bua' | 'manual' | 'manualOff', number[]> = {
        acs: [],
        bua: [],
        manual: [],
        manualOff: [],
      };
      for (let s = 0; s < K; s++) {
        const r = rand();
        if (s === 0) sets[(['acs', 'bua', 'manual'] as const)[int(3)]!].push(0);
        else if (r < 0.15) sets.acs.push(s);
        else if (r < 0.2) sets.bua.push(s);
        else if (r < 0.23) sets.manual.push(s);
        else if (r < 0.25) sets.manualOff.push(s);
      }
      blocks.push({ id: `${layer}.${kind}`, ...sets, cost: cost() });
    }
  }
  return {
    model: { path: names[int(names.length)]!, sha256: hex() },
    sampler: { type: ['ddpm', 'ddim', 'dpmsolver++'][int(3)]!, steps: K },
    solver: {
      budget: 1 + int(K),
      topN: int(10),
      forceLast: rand() < 0.5,
      profile: rand() < 0.3 ? null : { path: 'profiles/p.bacprofile', sha256: hex() },
    },
    baseCost: cost(),
    blocks,
  };
}
