// Preloaded (`node --require`) into a spawned `bac` by the interrupt tests: the rename that ends
// an atomic write waits BAC_TEST_RENAME_DELAY_MS (default 3000) after printing a marker to stderr,
// so a test can signal the process while the temp file exists. Production code is untouched.
'use strict';
/* global require, process, setTimeout */
/* eslint-disable @typescript-eslint/no-require-imports */
const fsp = require('node:fs/promises');

const rename = fsp.rename;
fsp.rename = async (from, to) => {
  if (String(from).endsWith('tmp')) {
    process.stderr.write('BAC_TEST: temp file written, rename pending\n');
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.BAC_TEST_RENAME_DELAY_MS ?? 3000)));
  }
  return rename(from, to);
};
