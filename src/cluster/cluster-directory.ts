/**
 * The clusters warren watches, each with its management client (and, where node control is configured, the reader
 * of its nodes' partition handling), looked up by the names operators type.
 */
import type { ClusterConfig } from '../config/schema.js';
import { UnknownClusterError } from '../errors.js';
import type { RejectionSink } from '../management/listing.js';
import { ManagementClient } from '../management/management-client.js';
import { CommandNodeControl } from '../remediation/node-control.js';
import { PartitionHandlingReader } from './partition-handling-reader.js';

export interface ClusterHandle {
  config: ClusterConfig;
  management: ManagementClient;
  /** Each node's cluster_partition_handling, read through node control; absent without `nodeControl`. */
  partitionHandling?: PartitionHandlingReader;
}

/** A read of configuration must not hold a sweep for the minutes a node restart may take (nodeControl.timeout). */
const PARTITION_HANDLING_READ_TIMEOUT_MS = 30_000;

function partitionHandlingReader(config: ClusterConfig): PartitionHandlingReader | undefined {
  const control = config.nodeControl;
  if (!control) return undefined;
  return new PartitionHandlingReader(
    new CommandNodeControl({
      command: control.command,
      env: control.env,
      timeoutMs: Math.min(control.timeout, PARTITION_HANDLING_READ_TIMEOUT_MS),
    }),
  );
}

export class ClusterDirectory {
  private readonly byName = new Map<string, ClusterHandle>();

  constructor(
    clusters: ClusterConfig[],
    options: {
      managementTimeoutMs?: number;
      /** Where each cluster's client reports listing items it left out for failing validation. */
      listingRejections?: (cluster: string) => RejectionSink;
    } = {},
  ) {
    for (const config of clusters) {
      this.byName.set(config.name, {
        config,
        management: new ManagementClient(config, {
          timeoutMs: options.managementTimeoutMs,
          onRejected: options.listingRejections?.(config.name),
        }),
        ...(config.nodeControl ? { partitionHandling: partitionHandlingReader(config) } : {}),
      });
    }
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  all(): ClusterHandle[] {
    return [...this.byName.values()];
  }

  get(name: string): ClusterHandle {
    const handle = this.byName.get(name);
    if (!handle) throw new UnknownClusterError(name, this.names);
    return handle;
  }

  /** One named cluster, or every cluster when no name was given. */
  select(name: string | undefined): ClusterHandle[] {
    return name === undefined ? this.all() : [this.get(name)];
  }
}
