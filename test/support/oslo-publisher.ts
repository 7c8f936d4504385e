/**
 * Publishes notifications on a real broker exactly as oslo.messaging does: the recorded wire bodies from
 * test/fixtures/oslo (produced by real oslo code), with a fresh message_id each time so de-duplication does not
 * hide repeats, to the fixture's exchange and routing key.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Channel, type ChannelModel, connect } from 'amqplib';

const DIR = resolve(import.meta.dirname, '..', 'fixtures', 'oslo');

interface FixtureIndexEntry {
  file: string;
  envelopeVersion: 1 | 2;
  exchange: string;
  routingKey: string;
}

const index = JSON.parse(readFileSync(resolve(DIR, 'index.json'), 'utf8')) as FixtureIndexEntry[];

export interface OsloMessage {
  exchange: string;
  routingKey: string;
  body: Buffer;
  messageId: string;
}

/** A fixture re-issued with a new message_id and optional changes to the inner message dict. */
export function osloMessage(
  file: string,
  change: (message: Record<string, unknown>) => void = () => undefined,
): OsloMessage {
  const entry = index.find((e) => e.file === file);
  if (!entry) throw new Error(`no fixture ${file}`);
  const wire = JSON.parse(readFileSync(resolve(DIR, file), 'utf8')) as Record<string, unknown>;
  const inner =
    entry.envelopeVersion === 2 ? (JSON.parse(wire['oslo.message'] as string) as Record<string, unknown>) : wire;
  const messageId = randomUUID();
  inner.message_id = messageId;
  change(inner);
  const body = entry.envelopeVersion === 2 ? { 'oslo.version': '2.0', 'oslo.message': JSON.stringify(inner) } : inner;
  return { exchange: entry.exchange, routingKey: entry.routingKey, body: Buffer.from(JSON.stringify(body)), messageId };
}

export class OsloPublisher {
  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: Channel,
  ) {}

  static async connect(amqpUrl: string): Promise<OsloPublisher> {
    const connection = await connect(amqpUrl);
    // Tests kill nodes on purpose; a publisher on that node just goes away instead of failing the run.
    connection.on('error', () => undefined);
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    return new OsloPublisher(connection, channel);
  }

  /** Declares a topic exchange as oslo does (durable per amqp_durable_queues, default false). */
  async declareExchange(name: string, durable = false): Promise<void> {
    await this.channel.assertExchange(name, 'topic', { durable, autoDelete: false });
  }

  async publish(message: OsloMessage, exchange = message.exchange, routingKey = message.routingKey): Promise<void> {
    this.channel.publish(exchange, routingKey, message.body, {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
    });
  }

  async publishRaw(exchange: string, routingKey: string, body: Buffer): Promise<void> {
    this.channel.publish(exchange, routingKey, body, { contentType: 'application/json' });
  }

  async deleteQueue(name: string): Promise<void> {
    await this.channel.deleteQueue(name);
  }

  async confirm(): Promise<void> {
    await (this.channel as Channel & { waitForConfirms(): Promise<void> }).waitForConfirms();
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}
