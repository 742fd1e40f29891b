import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CODELENS_LANGUAGES, SCHEDULE_EXTENSION } from '../../src/core/codelens-scan';

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  activationEvents: string[];
};

describe('package.json activation', () => {
  it('activates in a workspace holding a schedule and on every CodeLens language, nothing else', () => {
    // The CodeLens must show in a fresh window (no schedule opened, no command run): VS Code only
    // asks providers of active extensions, and registering a CodeLens provider implies no event.
    const expected = [
      `workspaceContains:**/*${SCHEDULE_EXTENSION}`,
      ...CODELENS_LANGUAGES.map((language) => `onLanguage:${language}`),
    ];
    assert.deepEqual([...manifest.activationEvents].sort(), [...expected].sort());
  });

  it('lists each CodeLens language once', () => {
    assert.equal(new Set(CODELENS_LANGUAGES).size, CODELENS_LANGUAGES.length);
  });
});
