/**
 * Notifications as OpenStack services put them on the wire, for the demo's traffic simulator: oslo's message
 * dict (`message_id`, `publisher_id`, `event_type`, `priority`, `payload`, `timestamp` in UTC without a zone)
 * sent bare (envelope v1, what `[oslo_messaging_notifications] driver = messaging` with the v1 serializer writes)
 * or wrapped in `{"oslo.version": "2.0", "oslo.message": "<json>"}` (messagingv2). The shapes follow what
 * python3-oslo.messaging writes for nova (legacy and versioned payloads), neutron and cinder.
 */

import { randomUUID } from 'node:crypto';
import { DemoError } from '../errors.js';

export interface WireNotification {
  exchange: string;
  routingKey: string;
  body: Buffer;
}

export type NotificationKind =
  | 'nova.instance.create.end'
  | 'nova.instance.create.error'
  | 'nova.versioned.instance.create.error'
  | 'nova.versioned.service.update'
  | 'neutron.port.create.end'
  | 'cinder.volume.attach.error';

interface Notification {
  message_id: string;
  publisher_id: string;
  event_type: string;
  priority: 'INFO' | 'WARN' | 'ERROR';
  payload: Record<string, unknown>;
  timestamp: string;
}

const PROJECT = '6f70656e737461636b20342065766572';
const USER = 'c7b9a3f1e1d34f0f9f1e3e2d5a4b6c7d';

/** oslo's timestamp: `2026-11-22 13:23:31.120034`, UTC, no zone. */
export function osloTimestamp(at: Date = new Date()): string {
  return `${at.toISOString().replace('T', ' ').replace('Z', '')}000`;
}

function legacyInstance(host: string, name: string, state: string): Record<string, unknown> {
  return {
    tenant_id: PROJECT,
    user_id: USER,
    instance_id: randomUUID(),
    display_name: name,
    hostname: name,
    instance_type: 'm1.medium',
    memory_mb: 4096,
    disk_gb: 40,
    vcpus: 2,
    host,
    node: host,
    availability_zone: 'nova',
    state,
    created_at: osloTimestamp(),
  };
}

function versionedFault(exception: string, message: string): Record<string, unknown> {
  return {
    'nova_object.name': 'ExceptionPayload',
    'nova_object.namespace': 'nova',
    'nova_object.version': '1.1',
    'nova_object.data': {
      exception,
      exception_message: message,
      function_name: '_build_resources',
      module_name: 'nova.compute.manager',
      traceback: `Traceback (most recent call last):\n  File "nova/compute/manager.py", line 2743, in _build_resources\nnova.exception.${exception}: ${message}\n`,
    },
  };
}

function build(kind: NotificationKind, host: string, instance: number): { exchange: string; message: Notification } {
  const base = { message_id: randomUUID(), timestamp: osloTimestamp() };
  const name = `vm-${instance}`;
  switch (kind) {
    case 'nova.instance.create.end':
      return {
        exchange: 'nova',
        message: {
          ...base,
          publisher_id: `compute.${host}`,
          event_type: 'compute.instance.create.end',
          priority: 'INFO',
          payload: legacyInstance(host, name, 'active'),
        },
      };
    case 'nova.instance.create.error':
      return {
        exchange: 'nova',
        message: {
          ...base,
          publisher_id: `compute.${host}`,
          event_type: 'compute.instance.create.error',
          priority: 'ERROR',
          payload: {
            ...legacyInstance(host, name, 'error'),
            exception: 'NoValidHost',
            message: 'No valid host was found. There are not enough hosts available.',
          },
        },
      };
    case 'nova.versioned.instance.create.error':
      return {
        exchange: 'nova',
        message: {
          ...base,
          publisher_id: `nova-compute:${host}`,
          event_type: 'instance.create.error',
          priority: 'ERROR',
          payload: {
            'nova_object.name': 'InstanceCreatePayload',
            'nova_object.namespace': 'nova',
            'nova_object.version': '1.12',
            'nova_object.data': {
              uuid: randomUUID(),
              display_name: name,
              host,
              node: host,
              tenant_id: PROJECT,
              user_id: USER,
              state: 'error',
              fault: versionedFault('FlavorDiskTooSmall', "The created instance's disk would be too small."),
            },
          },
        },
      };
    case 'nova.versioned.service.update':
      return {
        exchange: 'nova',
        message: {
          ...base,
          publisher_id: `nova-compute:${host}`,
          event_type: 'service.update',
          priority: 'INFO',
          payload: {
            'nova_object.name': 'ServiceStatusPayload',
            'nova_object.namespace': 'nova',
            'nova_object.version': '1.1',
            'nova_object.data': {
              host,
              binary: 'nova-compute',
              topic: 'compute',
              disabled: false,
              forced_down: false,
              last_seen_up: new Date().toISOString(),
              report_count: instance,
            },
          },
        },
      };
    case 'neutron.port.create.end':
      return {
        exchange: 'neutron',
        message: {
          ...base,
          publisher_id: `network.${host}`,
          event_type: 'port.create.end',
          priority: 'INFO',
          payload: {
            port: {
              id: randomUUID(),
              network_id: randomUUID(),
              tenant_id: PROJECT,
              device_owner: 'compute:nova',
              status: 'DOWN',
              'binding:host_id': host,
            },
          },
        },
      };
    case 'cinder.volume.attach.error':
      return {
        exchange: 'openstack',
        message: {
          ...base,
          publisher_id: `volume.${host}@lvm`,
          event_type: 'volume.attach.error',
          priority: 'ERROR',
          payload: {
            tenant_id: PROJECT,
            user_id: USER,
            host: `${host}@lvm#lvm`,
            volume_id: randomUUID(),
            display_name: `${name}-data`,
            status: 'error_attaching',
            size: 100,
            error:
              "ProcessExecutionError: Unexpected error while running command. Stderr: 'tgtadm: failed to send request hdr to tgt daemon'",
          },
        },
      };
    default:
      throw new DemoError(`unknown notification kind ${kind satisfies never}`);
  }
}

/** One notification of `kind` from `host`, in envelope version 1 or 2, addressed as oslo addresses it. */
export function notification(kind: NotificationKind, host: string, envelope: 1 | 2, instance = 1): WireNotification {
  const { exchange, message } = build(kind, host, instance);
  const versioned = kind.startsWith('nova.versioned.');
  const routingKey = `${versioned ? 'versioned_notifications' : 'notifications'}.${message.priority.toLowerCase()}`;
  const dict = JSON.stringify(message);
  const body = envelope === 1 ? dict : JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': dict });
  return { exchange, routingKey, body: Buffer.from(body) };
}
