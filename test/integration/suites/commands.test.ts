/** Acceptance: the commands are registered and contributed under the "BAC" category. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { activateExtension, extension } from '../helpers';

describe('commands', () => {
  before(activateExtension);

  it('registers "BAC: Profile Model" (bac.profileModel) and bac.showLog', async () => {
    const commands = await vscode.commands.getCommands(true);
    for (const id of ['bac.profileModel', 'bac.showLog']) assert.ok(commands.includes(id), `${id} is registered`);
  });

  it('contributes every bac.* command with category "BAC"', () => {
    const pkg = extension().packageJSON as {
      contributes: { commands: { command: string; title: string; category?: string }[] };
    };
    const profile = pkg.contributes.commands.find((c) => c.command === 'bac.profileModel');
    assert.ok(profile, 'bac.profileModel is contributed');
    assert.equal(`${profile.category}: ${profile.title}`, 'BAC: Profile Model');
    for (const c of pkg.contributes.commands) assert.equal(c.category, 'BAC', `${c.command} has category BAC`);
  });
});
