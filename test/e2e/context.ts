/**
 * What scripts/vscode-test/run-e2e.ts hands the E2E suites: a workbench page of code-server with
 * the packaged VSIX installed and the test workspace open. Set before mocha loads the suites.
 */
import type { Page } from 'playwright-core';
import type { CodeServer } from '../../scripts/vscode-test/code-server';

export interface E2EContext {
  readonly page: Page;
  readonly server: CodeServer;
  /** Absolute path of the throwaway workspace (scripts/vscode-test/workspace.ts). */
  readonly workspace: string;
  /** Where screenshots go: .test-artifacts/e2e/ */
  readonly artifacts: string;
  readonly repoRoot: string;
}

let current: E2EContext | undefined;

export function setE2EContext(ctx: E2EContext): void {
  current = ctx;
}

export function e2e(): E2EContext {
  if (!current) throw new Error('the E2E suites run through scripts/vscode-test/run-e2e.ts (npm run test:e2e)');
  return current;
}
