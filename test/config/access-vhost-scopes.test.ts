/** `access.vhostScopes`: channels limited to some vhosts, validated once with key-path problems. */
import { describe, expect, it } from 'vitest';
import { loadYaml as load, yamlProblems as problems } from '../support/config-file.js';

describe('access.vhostScopes', () => {
  it('is empty by default: every channel sees every vhost', () => {
    expect(load('access:\n  channels: [C0OPS]\n').access.vhostScopes).toEqual([]);
  });

  it('takes channels with their vhosts, globs included', () => {
    const access = load(`access:
  channels: [C0OPS, C0NEUTRON, C0NETWORK]
  vhostScopes:
    - {channels: [C0NEUTRON], vhosts: [/neutron]}
    - {channels: [C0NETWORK], vhosts: ['/neutron*', /octavia]}
`).access;
    expect(access.vhostScopes).toEqual([
      { channels: ['C0NEUTRON'], vhosts: ['/neutron'] },
      { channels: ['C0NETWORK'], vhosts: ['/neutron*', '/octavia'] },
    ]);
  });

  it('names the key of every problem', () => {
    expect(
      problems(`access:
  vhostScopes:
    - {channels: [C0NEUTRON], vhosts: []}
    - {channels: [neutron-team], vhosts: [/neutron]}
    - {channels: [C0NOVA], vhosts: [''], teams: [x]}
`),
    ).toEqual([
      'access.vhostScopes[0].vhosts: at least one vhost (a scope of none would refuse everything)',
      'access.vhostScopes[1].channels[0]: not a Slack id (e.g. U024BE7LH, S0614TZR7, C024BE91L)',
      'access.vhostScopes[2].vhosts[0]: a vhost name or glob (e.g. /neutron, /nova*)',
      'access.vhostScopes[2].teams: unknown key',
    ]);
  });

  it('refuses a channel scoped twice, and a scoped channel warren takes no commands in', () => {
    expect(
      problems(`access:
  channels: [C0OPS, C0NEUTRON]
  vhostScopes:
    - {channels: [C0NEUTRON], vhosts: [/neutron]}
    - {channels: [C0NEUTRON, C0NOVA], vhosts: [/nova]}
`),
    ).toEqual([
      'access.vhostScopes[1].channels[0]: C0NEUTRON is already scoped by vhostScopes[0]',
      'access.vhostScopes[1].channels[1]: C0NOVA is not in access.channels: warren takes no commands there',
    ]);
  });
});
