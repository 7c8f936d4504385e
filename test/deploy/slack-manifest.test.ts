/** The two Slack app manifests (HTTP and Socket Mode) ask for the same things, and only what docs/slack-app.md justifies. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '..', '..');
const read = (name: string) => parse(readFileSync(resolve(root, name), 'utf8'));
const http = read('manifest.yml');
const socket = read('manifest.socket-mode.yml');
const justified = [
  ...readFileSync(resolve(root, 'docs', 'slack-app.md'), 'utf8').matchAll(/^\| `([a-z:.]+)` \|/gm),
].map((m) => m[1]);

describe('Slack app manifests', () => {
  it('ask for the same command and bot scopes, each justified in docs/slack-app.md', () => {
    expect(socket.oauth_config).toEqual(http.oauth_config);
    expect(justified.sort()).toEqual([...http.oauth_config.scopes.bot].sort());
    const command = (m: typeof http) => ({ ...m.features.slash_commands[0], url: undefined });
    expect(command(socket)).toEqual(command(http));
    expect(http.features.slash_commands[0].command).toBe('/rabbit');
  });

  it('point HTTP mode at /slack/events and give Socket Mode no request URL', () => {
    expect(http.settings.socket_mode_enabled).toBe(false);
    expect(new URL(http.features.slash_commands[0].url).pathname).toBe('/slack/events');
    expect(new URL(http.settings.interactivity.request_url).pathname).toBe('/slack/events');
    expect(socket.settings.socket_mode_enabled).toBe(true);
    expect(socket.features.slash_commands[0].url).toBeUndefined();
    expect(socket.settings.interactivity).toEqual({ is_enabled: true });
  });
});
