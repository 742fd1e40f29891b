/**
 * Layout of the throwaway workspace the VS Code suites open (written by workspace.ts, read by the
 * suites). No imports, so the extension-host suites can bundle it without pulling in anything else.
 */
export const WS = {
  model: 'models/policy.onnx',
  profile: 'models/policy.bacprofile',
  schedule: 'models/policy.bacschedule',
  broken: 'broken.bacschedule',
  python: 'train.py',
  /** Link to fixtures/demo/episodes (profiling input). */
  episodes: 'episodes',
  /** Episodes file the profiling tests use. */
  episodesFile: 'episodes/train.hdf5',
  /** A second copy of the model without outputs beside it: the E2E test profiles it from the palette. */
  profileTarget: 'demo/demo-policy.onnx',
  /** The demo's `bac sweep` report (fixtures/demo/sweep), for the Sweep panel. */
  sweep: 'sweep/demo.bacsweep',
  /** A copy of the workspace schedule beside the report: what the Sweep panel's Apply edits. */
  sweepTarget: 'sweep/policy.bacschedule',
} as const;

/** Layers × 3 blocks = 24 blocks, K = 100: the size the 1.5 s timeline benchmark names. */
export const WS_LAYERS = 8;
export const WS_STEPS = 100;
export const WS_BUDGET = 10;
export const WS_TOP_N = 3;

/** Not a valid schedule: the editor must show the errors and never rewrite the file. */
export const BROKEN_SCHEDULE_TEXT = '{\n  "format": "bacschedule",\n  "version": 1,\n  "blocks": "not a list"\n}\n';

/** The line of train.py that names the schedule (0-based), where its CodeLens sits. */
export const PYTHON_SCHEDULE_LINE = 3;
export const PYTHON_TEXT = [
  'from bac_runtime import load_schedule',
  '',
  '# The cache schedule this policy runs with.',
  'schedule = load_schedule("models/policy.bacschedule")',
  '',
].join('\n');

/**
 * The model the workspace carries, first that exists (paths relative to the repository root):
 * the demo policy; until it is in the repository, the small DP-T the engine tests profile on the
 * demo episodes (same observation keys); last, the untrained DP-T of the test vectors, which does
 * not fit the demo episodes (profiling it on them is refused by design).
 */
export const MODEL_CANDIDATES = [
  { path: 'fixtures/demo/policy.onnx', what: 'the demo policy', fitsDemoEpisodes: true },
  {
    path: 'test/fixtures/engine/small-dpt.onnx',
    what: 'the small DP-T of the engine tests (stand-in until fixtures/demo/policy.onnx exists)',
    fitsDemoEpisodes: true,
  },
  {
    path: 'fixtures/demo/vectors/untrained-dpt.onnx',
    what: 'the untrained DP-T of the test vectors',
    fitsDemoEpisodes: false,
  },
] as const;

export type ModelCandidate = (typeof MODEL_CANDIDATES)[number];

/** The first candidate for which `exists(repo-relative path)` holds. */
export function pickModel(exists: (relativePath: string) => boolean): ModelCandidate {
  const found = MODEL_CANDIDATES.find((c) => exists(c.path));
  if (!found) throw new Error(`none of ${MODEL_CANDIDATES.map((c) => c.path).join(', ')} exists`);
  return found;
}

/** Demo episodes (repository-relative) the profiling tests use. */
export const DEMO_EPISODES = 'fixtures/demo/episodes/train.hdf5';

/** Publisher.name of the extension under test (package.json). */
export const EXTENSION_ID = 'bac-studio.bac-studio';
