/**
 * The clusters warren watches, each with its management client, looked up by the names operators type.
 */
import type { ClusterConfig } from '../config/schema.js';
import { UnknownClusterError } from '../errors.js';
import type { RejectionSink } from '../management/listing.js';
import { ManagementClient } from '../management/management-client.js';

export interface ClusterHandle {
  config: ClusterConfig;
  management: ManagementClient;
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
