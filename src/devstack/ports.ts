/**
 * Owns the choice of TCP ports for the devstack. It only probes ports on 127.0.0.1 and never keeps a socket open
 * longer than the probe: the caller's processes must be able to bind the ports right after.
 */

import { readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

import { LocalStackError } from './errors.js';

// Defaults of RabbitMQ, epmd and redis, so a system service (e.g. started by the package's postinst) never clashes.
const RESERVED = new Set([4369, 5672, 5671, 6379, 15672, 15671, 25672, 15692]);
// rabbitmqctl & co. use 35672-35682 as their own Erlang distribution ports.
const CLI_RANGE = { min: 35672, max: 35682 };
const LOWEST = 10_000;

// Ports handed out by this process: two stacks started concurrently must not get the same port between probe and bind.
const handedOut = new Set<number>();

export function isUsablePort(port: number): boolean {
  return (
    Number.isInteger(port) &&
    port >= 1024 &&
    port <= 65_535 &&
    !RESERVED.has(port) &&
    !(port >= CLI_RANGE.min && port <= CLI_RANGE.max)
  );
}

function ephemeralRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && high !== undefined && Number.isInteger(low) && Number.isInteger(high))
      return { low, high };
  } catch {
    // not Linux: fall through to the IANA default
  }
  return { low: 49_152, high: 65_535 };
}

/** Resolves to the bound port, or undefined when `port` cannot be bound on 127.0.0.1. */
function probe(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * Picks `count` distinct free ports on 127.0.0.1. Ports come from below the kernel's ephemeral range when there is
 * room there: an ephemeral port (what binding port 0 gives) can be taken by any outgoing connection, e.g. one of the
 * many rabbitmqctl runs, between a killNode and the startNode that must bind the same port again.
 */
export async function allocatePorts(count: number): Promise<number[]> {
  const { low } = ephemeralRange();
  const result: number[] = [];
  const take = (port: number): void => {
    handedOut.add(port);
    result.push(port);
  };
  if (low - LOWEST >= 1_000) {
    for (let attempt = 0; attempt < count * 50 && result.length < count; attempt++) {
      const port = LOWEST + Math.floor(Math.random() * (low - LOWEST));
      if (!isUsablePort(port) || handedOut.has(port)) continue;
      if ((await probe(port)) === port && !(await isPortOpen(port))) take(port);
    }
  }
  for (let attempt = 0; attempt < count * 50 && result.length < count; attempt++) {
    const port = await probe(0);
    if (port !== undefined && isUsablePort(port) && !handedOut.has(port)) take(port);
  }
  if (result.length < count) {
    throw new LocalStackError('warren_devstack_no_free_ports', `could not find ${count} free ports on 127.0.0.1`);
  }
  return result;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function isPortOpen(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
