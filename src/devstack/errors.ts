/**
 * Owns the devstack error type. Must not depend on the rest of warren: the devstack runs before any config exists
 * (test global setup, `warren start` without a cluster), so it keeps its own small code vocabulary.
 * Messages must never contain the cluster password or the Erlang cookie.
 */

export type LocalStackErrorCode =
  | 'warren_devstack_missing_binaries'
  | 'warren_devstack_install_failed'
  | 'warren_devstack_start_failed'
  | 'warren_devstack_base_dir_in_use'
  | 'warren_devstack_unknown_node'
  | 'warren_devstack_node_failed'
  | 'warren_devstack_no_free_ports'
  | 'warren_devstack_bad_description'
  | 'warren_devstack_stopped';

export class LocalStackError extends Error {
  readonly code: LocalStackErrorCode;
  constructor(code: LocalStackErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'LocalStackError';
  }
}
