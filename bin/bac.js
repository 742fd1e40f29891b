#!/usr/bin/env node
// The `bac` command of the bac-studio package. Runs the bundled CLI (dist/cli.js, built by
// `npm run build`); in a fresh checkout without a build it runs the TypeScript source through tsx,
// so `npx bac` works in the repository either way.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const bundled = join(root, 'dist', 'cli.js');
if (existsSync(bundled)) {
  require(bundled).runFromProcess();
} else {
  require('tsx/cjs/api').register();
  require(join(root, 'src', 'cli', 'main.ts')).runFromProcess();
}
