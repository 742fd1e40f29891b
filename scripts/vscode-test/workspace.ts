/**
 * Builds the throwaway workspace the VS Code suites open, from files in the repository:
 *
 *   models/policy.onnx          the demo policy (fixtures/demo/policy.onnx) or, until it exists,
 *                               a stand-in (MODEL_CANDIDATES in workspace-layout.ts)
 *   models/policy.bacprofile    a seeded synthetic profile of 24 blocks × 100 steps, linked to it
 *   models/policy.bacschedule   solved from that profile (budget 10, top-n 3): the 24 × 100 case
 *   broken.bacschedule          not valid (the editor must show errors and never rewrite it)
 *   train.py                    names "models/policy.bacschedule" in a string (CodeLens)
 *   demo/demo-policy.onnx       the same model, nothing beside it (profiled from the palette)
 *   episodes/                   link to fixtures/demo/episodes (for profiling)
 *   sweep/demo.bacsweep         the demo's bac sweep report and its recommended schedule
 *   sweep/policy.bacschedule    the workspace schedule again, for the Sweep panel to apply to
 *                               (only when the workspace model is the demo policy the sweep measured)
 *
 * The suites find this layout through workspace-layout.ts (import it, do not repeat paths).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serializeProfile } from '../../src/core/profile-format';
import { serializeSchedule } from '../../src/core/schedule-format';
import { solveSchedule } from '../../src/core/solve';
import type { Schedule } from '../../src/core/types';
import { syntheticProfile } from '../../test/unit/helpers/synthetic-profile';
export { WS } from './workspace-layout';
import {
  BROKEN_SCHEDULE_TEXT,
  pickModel,
  PYTHON_TEXT,
  WS,
  WS_BUDGET,
  WS_LAYERS,
  WS_STEPS,
  WS_TOP_N,
} from './workspace-layout';

export const REPO_ROOT = resolve(__dirname, '..', '..');

/** The model the workspace carries (see MODEL_CANDIDATES), as an absolute path. */
export function demoModelPath(): string {
  return join(REPO_ROOT, pickModel((p) => existsSync(join(REPO_ROOT, p))).path);
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Writes the workspace into `dir` (created if needed). */
export function makeWorkspace(dir: string): void {
  mkdirSync(join(dir, 'models'), { recursive: true });
  mkdirSync(join(dir, 'demo'), { recursive: true });
  copyFileSync(demoModelPath(), join(dir, WS.model));
  copyFileSync(demoModelPath(), join(dir, WS.profileTarget));
  const modelSha = sha256(readFileSync(join(dir, WS.model)));
  const profile = {
    ...syntheticProfile({ layers: WS_LAYERS, steps: WS_STEPS, seed: 7, samples: 4 }),
    model: { path: 'policy.onnx', sha256: modelSha },
    episodes: '../episodes/train.hdf5',
  };
  const profileBytes = serializeProfile(profile);
  writeFileSync(join(dir, WS.profile), profileBytes);
  const schedule = solveSchedule(
    profile,
    {
      budget: WS_BUDGET,
      topN: WS_TOP_N,
      forceLast: true,
      profile: { path: 'policy.bacprofile', sha256: sha256(profileBytes) },
    },
    { path: 'policy.onnx', sha256: modelSha },
  );
  writeFileSync(join(dir, WS.schedule), serializeSchedule(schedule));
  writeFileSync(join(dir, WS.broken), BROKEN_SCHEDULE_TEXT);
  writeFileSync(join(dir, WS.python), PYTHON_TEXT);
  copySweep(dir, modelSha, schedule);
  const episodes = join(REPO_ROOT, 'fixtures', 'demo', 'episodes');
  if (existsSync(episodes) && !existsSync(join(dir, WS.episodes))) symlinkSync(episodes, join(dir, WS.episodes));
}

/**
 * The demo sweep (report, recommended schedule and its profile when present) under sweep/, paths
 * to the model rewritten for the workspace, and a copy of the workspace schedule beside it.
 */
function copySweep(dir: string, modelSha: string, schedule: Schedule): void {
  const from = join(REPO_ROOT, 'fixtures', 'demo', 'sweep');
  const report = join(from, 'demo.bacsweep');
  if (!existsSync(report)) return;
  const parsed = JSON.parse(readFileSync(report, 'utf8')) as { model: { sha256: string } };
  if (parsed.model.sha256 !== modelSha) return; // the workspace carries another model
  mkdirSync(join(dir, 'sweep'), { recursive: true });
  const model = { path: '../models/policy.onnx', sha256: modelSha };
  writeFileSync(join(dir, WS.sweep), JSON.stringify({ ...parsed, model }, null, 2));
  for (const name of readdirSync(from)) {
    if (name.endsWith('.bacprofile')) copyFileSync(join(from, name), join(dir, 'sweep', name));
    if (name.endsWith('.bacschedule')) {
      const text = readFileSync(join(from, name), 'utf8').replace(
        /"path": "\.\.\/policy\.onnx"/,
        '"path": "../models/policy.onnx"',
      );
      writeFileSync(join(dir, 'sweep', name), text);
    }
  }
  const profile = schedule.solver.profile && { ...schedule.solver.profile, path: '../models/policy.bacprofile' };
  writeFileSync(
    join(dir, WS.sweepTarget),
    serializeSchedule({ ...schedule, model, solver: { ...schedule.solver, profile } }),
  );
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: tsx scripts/vscode-test/workspace.ts <dir>');
    process.exit(2);
  }
  makeWorkspace(dir);
  console.log(`workspace written to ${dir}`);
}
