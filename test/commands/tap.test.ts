import { describe, expect, it } from 'vitest';
import { renderTapStatus, tapCommand } from '../../commands/tap.js';

describe('tap command', () => {
  const parse = (positionals: string[]) => tapCommand.args.safeParse({ positionals, flags: {} });

  it('parses actions and clusters, and asks operators for pause/resume', () => {
    expect(parse([]).data).toEqual({ action: 'status', cluster: undefined });
    expect(parse(['prod']).data).toEqual({ action: 'status', cluster: 'prod' });
    expect(parse(['pause', 'prod']).data).toEqual({ action: 'pause', cluster: 'prod' });
    expect(parse(['stop', 'prod']).error?.issues[0]?.message).toBe(
      'unknown tap action "stop" (status, pause or resume)',
    );
    expect(tapCommand.accessFor?.({ action: 'pause', cluster: undefined })).toBe('operate');
    expect(tapCommand.accessFor?.({ action: 'status', cluster: undefined })).toBe('read');
  });

  it('renders connection, figures and each binding state', () => {
    const text = renderTapStatus(
      {
        cluster: 'prod',
        vhost: '/',
        connected: true,
        node: '10.0.0.1:5672',
        mode: 'exclusive',
        paused: true,
        blocked: false,
        reconnects: 2,
        received: 12345,
        acked: 12345,
        invalid: 3,
        lastEventAt: 1_000,
        eventsPerSecond: 41.5,
        bindings: [
          { exchange: 'nova', routingKeys: ['notifications.error'], state: 'bound', queue: 'amq.gen-1' },
          {
            exchange: 'heat',
            routingKeys: ['notifications.error'],
            state: 'waiting_for_exchange',
            error: 'exchange heat not found',
          },
        ],
      },
      6_000,
    );
    expect(text.split('\n')).toEqual([
      '*prod*: connected to `10.0.0.1:5672` — *paused*',
      '41.5 events/s · 12,345 received · 3 invalid · last event 5s ago · 2 reconnect(s) · mode exclusive',
      ':large_green_circle: `nova` notifications.error — queue `amq.gen-1`',
      ':hourglass_flowing_sand: `heat` notifications.error — waiting for exchange: exchange heat not found',
    ]);
  });
});

describe('renderTapStatus per vhost', () => {
  const base = {
    cluster: 'prod',
    connected: false,
    mode: 'exclusive' as const,
    paused: false,
    blocked: false,
    reconnects: 0,
    received: 0,
    acked: 0,
    invalid: 0,
    eventsPerSecond: 0,
    bindings: [{ exchange: 'octavia', routingKeys: ['notifications.error'], state: 'pending' as const }],
  };

  it('names a vhost other than the default one, and says why a vhost is refused', () => {
    const refused = renderTapStatus({
      ...base,
      vhost: '/octavia',
      refused: { reason: 'vhost_not_found', error: 'NOT_ALLOWED - vhost /octavia not found' },
    });
    expect(refused.split('\n')[0]).toBe(
      ':red_circle: *prod* vhost `/octavia`: *refused*: the vhost does not exist (retrying): NOT_ALLOWED - vhost /octavia not found',
    );
    const noAccess = renderTapStatus({
      ...base,
      vhost: '/nova',
      refused: { reason: 'vhost_access_refused', error: "NOT_ALLOWED - access to vhost '/nova' refused for user 'w'" },
    });
    expect(noAccess).toContain("warren's user has no permission on the vhost");
    const connected = renderTapStatus({ ...base, vhost: '/nova', connected: true, node: 'h:5672' });
    expect(connected.split('\n')[0]).toBe('*prod* vhost `/nova`: connected to `h:5672`');
  });
});
