/**
 * Public API of the demo simulator: the waypoint-then-goal planar task, its scripted multimodal
 * expert (their seeded generator is `createSimRng` in `core/rng.ts`). Pure TypeScript with no Node imports, so the engine, CLI and
 * webview can all import it.
 */
export * from './geometry';
export * from './env';
export * from './expert';
