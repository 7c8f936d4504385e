/**
 * Pulls what an operator needs to read in chat out of a decoded oslo notification: who sent it (service, host), what
 * it is about (instance, project, resource), what went wrong (exception, message, state) and, for service updates,
 * the service's new status. It knows the payload shapes of the well-known families: nova versioned payloads
 * (`nova_object.data`), nova/cinder/glance legacy dicts and neutron's `{resource: {...}}` wrapper.
 * It must never throw and never decide anything (severity, routing, formatting belong elsewhere): a payload is
 * whatever a service chose to send, so every field is looked at with its type checked first and skipped when odd.
 */
import type { OsloNotification } from './notification-envelope.js';

export interface ServiceStatus {
  binary?: string;
  host?: string;
  disabled?: boolean;
  forcedDown?: boolean;
  reason?: string;
  /** When the service last reported in, as the payload says it (nova: ISO 8601 UTC). */
  lastSeenUp?: string;
}

export interface NotificationFacts {
  service?: string;
  host?: string;
  instanceId?: string;
  projectId?: string;
  resourceId?: string;
  exception?: string;
  errorMessage?: string;
  state?: string;
  serviceStatus?: ServiceStatus;
}

/** Longest text kept in a fact: these go to Slack, and exception texts can carry whole tracebacks. */
export const MAX_FACT_TEXT = 500;

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Own properties only: a payload key such as "constructor" or "__proto__" must not resolve to Object.prototype.
function get(dict: Dict, key: string): unknown {
  return Object.hasOwn(dict, key) ? dict[key] : undefined;
}

function dictAt(dict: Dict, key: string): Dict | undefined {
  const value = get(dict, key);
  return isDict(value) ? value : undefined;
}

/** Cuts to MAX_FACT_TEXT without splitting a surrogate pair, marking the cut with an ellipsis. */
export function truncateText(text: string, max = MAX_FACT_TEXT): string {
  if (text.length <= max) return text;
  let cut = max - 1;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return `${text.slice(0, cut)}…`;
}

/** A non-empty string field, trimmed but whole: for text that is parsed before it is cut. */
function rawText(dict: Dict, key: string): string | undefined {
  const value = get(dict, key);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** A non-empty string field, trimmed and truncated; numbers are accepted as ids often are (cinder, legacy nova). */
function text(dict: Dict | undefined, ...keys: string[]): string | undefined {
  if (!dict) return undefined;
  for (const key of keys) {
    const value = get(dict, key);
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (typeof value === 'string' && value.trim() !== '') return truncateText(value.trim());
  }
  return undefined;
}

function bool(dict: Dict, key: string): boolean | undefined {
  const value = get(dict, key);
  return typeof value === 'boolean' ? value : undefined;
}

/**
 * Service and host from a publisher_id. Two forms exist: legacy `<service>.<host>` (`compute.cmp-01.dc1.example.net`;
 * hosts contain dots, so only the first dot separates) and nova's versioned `<binary>:<host>` (`nova-compute:cmp-01`).
 * The separator that comes first decides, so an IPv6 host in the legacy form (`compute.fe80::1`) stays legacy.
 */
export function parsePublisherId(publisherId: string): { service?: string; host?: string } {
  const dot = publisherId.indexOf('.');
  const colon = publisherId.indexOf(':');
  const at = colon >= 0 && (dot < 0 || colon < dot) ? colon : dot;
  const service = (at >= 0 ? publisherId.slice(0, at) : publisherId).trim();
  const host = at >= 0 ? publisherId.slice(at + 1).trim() : '';
  return {
    ...(service !== '' && { service: truncateText(service) }),
    ...(host !== '' && { host: truncateText(host) }),
  };
}

// oslo's to_primitive turns an exception object found in a payload into its Python repr, e.g.
// `RescheduledException('Build of instance … was re-scheduled: …')` (nova legacy `exception`, cinder errors).
const MAX_REPR = 20_000;
const PYTHON_REPR = /^([A-Za-z_][\w.]*)\(([\s\S]*)\)$/;
// One quoted string and nothing else (escapes allowed, the quote itself only escaped): `('a', 'b')` is two args.
const PYTHON_SINGLE_STRING = /^(['"])((?:\\[\s\S]|(?!\1)[^\\])*)\1,?$/;
const PYTHON_ESCAPE = /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[\\'"nrt])/g;
const SIMPLE_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', r: '\r', t: '\t' };

function unescapePython(body: string): string {
  return body.replace(PYTHON_ESCAPE, (_match, esc: string) => {
    if (esc.length === 1) return SIMPLE_ESCAPES[esc] ?? esc;
    const code = Number.parseInt(esc.slice(1), 16);
    return code <= 0x10ffff ? String.fromCodePoint(code) : '\uFFFD';
  });
}

/** Splits `Name('message')` into the class name and its message; other text is returned whole as the name. */
function splitException(raw: string): { name: string; message?: string } {
  // Beyond this the text is not a repr worth parsing (and the regexes should not walk megabytes).
  const repr = raw.length <= MAX_REPR ? PYTHON_REPR.exec(raw) : null;
  if (!repr) return { name: raw };
  const name = repr[1] as string;
  const single = PYTHON_SINGLE_STRING.exec((repr[2] as string).trim());
  if (single) {
    const message = unescapePython(single[2] as string).trim();
    return message === '' ? { name } : { name, message };
  }
  const args = (repr[2] as string).trim();
  return args === '' ? { name } : { name, message: args };
}

function setException(facts: NotificationFacts, raw: string | undefined): void {
  if (raw === undefined || facts.exception !== undefined) return;
  const { name, message } = splitException(raw);
  facts.exception = truncateText(name);
  if (message !== undefined && facts.errorMessage === undefined) facts.errorMessage = truncateText(message);
}

function serviceStatusOf(dict: Dict): ServiceStatus | undefined {
  const status: ServiceStatus = {};
  const binary = text(dict, 'binary');
  const host = text(dict, 'host');
  const disabled = bool(dict, 'disabled');
  const forcedDown = bool(dict, 'forced_down');
  const reason = text(dict, 'disabled_reason');
  const lastSeenUp = text(dict, 'last_seen_up');
  if (binary !== undefined) status.binary = binary;
  if (host !== undefined) status.host = host;
  if (disabled !== undefined) status.disabled = disabled;
  if (forcedDown !== undefined) status.forcedDown = forcedDown;
  if (reason !== undefined) status.reason = reason;
  if (lastSeenUp !== undefined) status.lastSeenUp = lastSeenUp;
  return Object.keys(status).length > 0 ? status : undefined;
}

// Only a dict that says what binary it is and whether it is up counts as a service record; a `host` alone does not.
function looksLikeService(dict: Dict, eventType: string): boolean {
  if (text(dict, 'binary') === undefined) return false;
  return (
    eventType.startsWith('service.') || bool(dict, 'forced_down') !== undefined || bool(dict, 'disabled') !== undefined
  );
}

const ALERTING = new Set(['WARN', 'ERROR', 'CRITICAL']);

/** The fields common to legacy dicts and versioned data, read from `body` (already unwrapped). */
function readCommon(facts: NotificationFacts, body: Dict, event: EventInfo): void {
  facts.instanceId ??= text(body, 'instance_id', 'instance_uuid');
  facts.projectId ??= text(body, 'project_id', 'tenant_id', 'owner');
  facts.resourceId ??= text(
    body,
    `${event.resource}_id`,
    'id',
    'volume_id',
    'port_id',
    'snapshot_id',
    'backup_id',
    'image_id',
  );
  facts.state ??= text(body, 'state', 'status');
  facts.host ??= text(body, 'host');

  setException(facts, rawText(body, 'exception'));
  // cinder and others put a stringified exception under `error`: a repr names the class, plain text is a message.
  const error = rawText(body, 'error');
  if (error !== undefined) {
    if (error.length <= MAX_REPR && PYTHON_REPR.test(error)) setException(facts, error);
    else facts.errorMessage ??= truncateText(error);
  }
  facts.errorMessage ??= text(body, 'exception_message', 'error_message', 'fault_message');
  // `message` is an error text in nova's legacy faults, but informational payloads use the word too: only trust it
  // when something else says this is a failure.
  if (facts.exception !== undefined || ALERTING.has(event.priority)) facts.errorMessage ??= text(body, 'message');

  // Neutron ports name their owner: `compute:<az>` means device_id is a nova instance.
  const owner = text(body, 'device_owner');
  if (owner?.startsWith('compute:')) facts.instanceId ??= text(body, 'device_id');

  if (looksLikeService(body, event.type)) facts.serviceStatus ??= serviceStatusOf(body);
}

interface EventInfo {
  type: string;
  /** First segment of the event type, which names the resource: `port.create.end` → port. */
  resource: string;
  priority: string;
}

function extractInto(facts: NotificationFacts, n: OsloNotification): void {
  const payload = n.payload;
  if (!isDict(payload)) return;
  // Typed as strings, but a hand-built notification may lack them; that must cost the facts, not an exception.
  const type = typeof n.eventType === 'string' ? n.eventType : '';
  const event: EventInfo = {
    type,
    resource: type.split('.', 1)[0] ?? '',
    priority: typeof n.priority === 'string' ? n.priority : '',
  };

  const data = dictAt(payload, 'nova_object.data');
  if (data) {
    // Versioned nova: the interesting dict is one level down, and a fault is another versioned object.
    const objectName = text(payload, 'nova_object.name') ?? '';
    const aboutInstance = event.type.startsWith('instance.') || objectName.startsWith('Instance');
    if (aboutInstance) facts.instanceId = text(data, 'uuid');
    const fault = dictAt(data, 'fault');
    const faultData = fault ? dictAt(fault, 'nova_object.data') : undefined;
    // An ExceptionPayload can also be the payload itself (versioned `compute.exception`).
    for (const source of [faultData, data]) {
      if (!source) continue;
      setException(facts, rawText(source, 'exception'));
      facts.errorMessage ??= text(source, 'exception_message');
    }
    readCommon(facts, data, event);
    if (!aboutInstance) facts.resourceId ??= text(data, 'uuid');
    return;
  }

  // Neutron wraps the resource: {"port": {...}} for port.create.end; deletes send {"port_id": "..."} instead.
  const wrapped = event.resource !== '' ? dictAt(payload, event.resource) : undefined;
  readCommon(facts, wrapped ?? payload, event);
}

/** The operator-facing facts of one notification; fields that are absent or malformed are simply left out. */
export function extractFacts(n: OsloNotification): NotificationFacts {
  const facts: NotificationFacts = {};
  try {
    Object.assign(facts, parsePublisherId(typeof n.publisherId === 'string' ? n.publisherId : ''));
    extractInto(facts, n);
  } catch {
    // Unreachable for decoded JSON; kept so that a caller-built notification with exotic objects (getters, proxies)
    // still yields whatever was gathered rather than taking the tap down.
  }
  // `??=` may have stored undefined under a key; "only fields present" means those keys must go.
  for (const key of Object.keys(facts) as (keyof NotificationFacts)[]) {
    if (facts[key] === undefined) delete facts[key];
  }
  return facts;
}
