/**
 * Headless Chromium for the workbench, driven by playwright-core (which downloads no browser).
 * The browser is Debian's `chromium` (`.ci/run` installs it); `BAC_CHROMIUM` points elsewhere.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

export function findChromium(): string {
  const fromEnv = process.env.BAC_CHROMIUM;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`BAC_CHROMIUM=${fromEnv} does not exist`);
    return fromEnv;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `no Chromium found (looked for ${CANDIDATES.join(', ')}). The VS Code suites drive the workbench in a ` +
        "headless Chromium: install Debian's with `apt-get install -y chromium` (.ci/run does) or set BAC_CHROMIUM.",
    );
  }
  return found;
}

export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}
