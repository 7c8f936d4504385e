import { describe, expect, it } from 'vitest';
import { type NotificationKind, notification, osloTimestamp } from '../../src/demo/oslo-notifications.js';
import { decodeNotification, parseOsloTimestamp } from '../../src/tap/notification-envelope.js';
import { extractFacts } from '../../src/tap/notification-facts.js';

const KINDS: NotificationKind[] = [
  'nova.instance.create.end',
  'nova.instance.create.error',
  'nova.versioned.instance.create.error',
  'nova.versioned.service.update',
  'neutron.port.create.end',
  'cinder.volume.attach.error',
];

describe("the demo's notifications", () => {
  it("write oslo's UTC timestamp without a zone, as the tap reads it", () => {
    const at = new Date('2026-11-22T13:23:31.120Z');
    expect(osloTimestamp(at)).toBe('2026-11-22 13:23:31.120000');
    expect(parseOsloTimestamp(osloTimestamp(at))).toBe(at.getTime());
  });

  it.each(KINDS)('%s decodes in both envelope versions, with the facts an operator needs', (kind) => {
    for (const envelope of [1, 2] as const) {
      const wire = notification(kind, 'cmp-02', envelope);
      const raw = JSON.parse(wire.body.toString());
      expect('oslo.version' in raw).toBe(envelope === 2);
      const decoded = decodeNotification(wire.body, { maxBytes: 1_048_576 });
      if (!decoded.ok) throw new Error(`${kind} v${envelope}: ${decoded.reason} ${decoded.detail}`);
      const n = decoded.notification;
      expect(wire.routingKey).toBe(
        `${kind.startsWith('nova.versioned.') ? 'versioned_notifications' : 'notifications'}.${n.priority.toLowerCase()}`,
      );
      expect(wire.exchange).toBe(
        { nova: 'nova', neutron: 'neutron', cinder: 'openstack' }[kind.split('.')[0] as string],
      );
      const facts = extractFacts(n);
      // cinder names its host with the backend: `host@backend`.
      expect(facts.host).toMatch(/^cmp-02(@lvm)?$/);
      if (n.priority === 'ERROR') expect(facts.exception ?? facts.errorMessage).toBeTruthy();
    }
  });

  it('gives each notification its own message_id, so de-duplication does not swallow repeats', () => {
    const ids = new Set(
      [1, 2, 3].map(
        (i) => JSON.parse(notification('neutron.port.create.end', 'net-01', 1, i).body.toString()).message_id,
      ),
    );
    expect(ids.size).toBe(3);
  });
});
