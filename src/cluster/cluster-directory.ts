/**
 * The clusters warren watches, each with its management client (and, where node control is configured, the node
 * control its reads go through and the reader of its nodes' partition handling), looked up by the names operators
 * type.
 */
import type { ClusterConfig } from '../config/schema.js';
import { UnknownClusterError } from '../errors.js';
import type { RejectionSink } from '../management/listing.js';
import { ManagementClient } from '../management/management-client.js';
import { type NodeControl, nodeControlFrom } from '../remediation/node-control.js';
import { BootWatch } from './boot-watch.js';
import { ErlangVersions } from './erlang-versions.js';
import { PartitionHandlingReader } from './partition-handling-reader.js';

export interface ClusterHandle {
  config: ClusterConfig;
  management: ManagementClient;
  /** Each node's Erlang version, kept for the node's boot (for `/rabbit status`). */
  erlangVersions: ErlangVersions;
  /** Each node's cluster_partition_handling, read through node control; absent without `nodeControl`. */
  partitionHandling?: PartitionHandlingReader;
  /** The cluster's node control for what the sweep reads only through the CLI; absent without `nodeControl`. */
  nodeControl?: NodeControl;
  /** Which stopped nodes are booting, and since when; absent without `nodeControl`. */
  bootWatch?: BootWatch;
}

/** A read through node control must not hold a sweep for the minutes a node restart may take (nodeControl.timeout). */
const NODE_READ_TIMEOUT_MS = 30_000;

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
      // the sweep's and commands' reads through node control are bounded, unlike a workflow's steps
      const nodeControl = config.nodeControl
        ? nodeControlFrom(config.nodeControl, Math.min(config.nodeControl.timeout, NODE_READ_TIMEOUT_MS))
        : undefined;
      const management = new ManagementClient(config, {
        timeoutMs: options.managementTimeoutMs,
        onRejected: options.listingRejections?.(config.name),
      });
      this.byName.set(config.name, {
        config,
        management,
        erlangVersions: new ErlangVersions(management),
        ...(nodeControl
          ? {
              nodeControl,
              partitionHandling: new PartitionHandlingReader(nodeControl),
              bootWatch: new BootWatch(nodeControl),
            }
          : {}),
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
