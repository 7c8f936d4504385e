/**
 * warren's error vocabulary. Every error that crosses a module boundary is a `WarrenError` with a stable
 * string code, so callers branch on codes (and operators can grep logs for them) instead of parsing messages.
 * Messages must never contain secrets: constructors take already-sanitised text.
 */

export enum ErrorCode {
  ConfigError = 'warren_config_error',
  ManagementApiError = 'warren_management_api_error',
  ManagementUnreachableError = 'warren_management_unreachable',
  QueueMetricsError = 'warren_queue_metrics',
  UnknownClusterError = 'warren_unknown_cluster',
  UnknownAlertError = 'warren_unknown_alert',
  WorkflowRefusedError = 'warren_workflow_refused',
  RunRefusedError = 'warren_run_refused',
  VhostOutOfScopeError = 'warren_vhost_out_of_scope',
  NodeControlError = 'warren_node_control',
  RemediationCredentialsError = 'warren_remediation_credentials',
  MalformedSlackRequestError = 'warren_malformed_slack_request',
  ErlangTermError = 'warren_erlang_term',
  StepFailedError = 'warren_step_failed',
  LockLostError = 'warren_lock_lost',
  RedisScriptError = 'warren_redis_script',
  DemoError = 'warren_demo',
}

export interface CodedError extends Error {
  code: ErrorCode;
}

export class WarrenError extends Error implements CodedError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export interface ConfigProblem {
  path: string;
  message: string;
}

/** Bad configuration: carries one entry per problem so the CLI can print them all at once and exit 2. */
export class ConfigError extends WarrenError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(ErrorCode.ConfigError, problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('\n'));
    this.problems = problems;
  }
}

export class ManagementApiError extends WarrenError {
  readonly status: number | undefined;
  readonly endpoint: string;
  /** The broker's own `reason`, when it gave one (a failed health check says why). */
  readonly reason: string | undefined;
  constructor(
    endpoint: string,
    status: number | undefined,
    message: string,
    options?: { cause?: unknown },
    reason?: string,
  ) {
    super(ErrorCode.ManagementApiError, message, options);
    this.status = status;
    this.endpoint = endpoint;
    this.reason = reason;
  }
}

/** Every management URL of a cluster failed; `attempts` names each base URL (without credentials) and why. */
export class ManagementUnreachableError extends WarrenError {
  readonly attempts: string[];
  constructor(cluster: string, attempts: string[]) {
    super(
      ErrorCode.ManagementUnreachableError,
      `no management endpoint of cluster ${cluster} answered: ${attempts.join('; ')}`,
    );
    this.attempts = attempts;
  }
}

/** A node's Prometheus endpoint could not be read or parsed for queue depths. */
export class QueueMetricsError extends WarrenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.QueueMetricsError, message, options);
  }
}

/** An `application/bert` answer that is not the Erlang term warren reads; the message says where it went wrong. */
export class ErlangTermError extends WarrenError {
  constructor(message: string) {
    super(ErrorCode.ErlangTermError, message);
  }
}

export class UnknownClusterError extends WarrenError {
  constructor(name: string, known: string[]) {
    super(ErrorCode.UnknownClusterError, `unknown cluster "${name}"; known clusters: ${known.join(', ') || '(none)'}`);
  }
}

/** A silence or action named an alert or check that does not exist. */
export class UnknownAlertError extends WarrenError {
  constructor(message: string) {
    super(ErrorCode.UnknownAlertError, message);
  }
}

/** A workflow will not start: unknown, bad arguments, nothing qualifies, or a prerequisite is not configured. */
export class WorkflowRefusedError extends WarrenError {
  constructor(message: string) {
    super(ErrorCode.WorkflowRefusedError, message);
  }
}

/**
 * A click or command on a run that may not act: unknown or foreign run, not pending, expired, self-approval,
 * a second approval by the same person, or a user who is not an approver. The message says which.
 */
export class RunRefusedError extends WarrenError {
  constructor(message: string) {
    super(ErrorCode.RunRefusedError, message);
  }
}

/** A command or run in a channel limited to some vhosts (access.vhostScopes) would read or act outside them. */
export class VhostOutOfScopeError extends WarrenError {
  constructor(message: string) {
    super(ErrorCode.VhostOutOfScopeError, message);
  }
}

/** Node control (rabbitmqctl or a configured command template) is missing, failed or timed out. */
export class NodeControlError extends WarrenError {
  constructor(message: string) {
    super(ErrorCode.NodeControlError, message);
  }
}

export function isCodedError(error: unknown): error is CodedError {
  return error instanceof WarrenError;
}

/**
 * A change to the broker was asked of a cluster without remediation credentials: warren never writes with its
 * read-only (monitoring) user.
 */
export class RemediationCredentialsError extends WarrenError {
  constructor(cluster: string) {
    super(
      ErrorCode.RemediationCredentialsError,
      `cluster ${cluster} has no remediation credentials (clusters[].remediationUser and remediationPassword): ` +
        'warren changes nothing with its read-only management user',
    );
  }
}

/**
 * A correctly signed request to /slack/events whose body is not what Slack sends (a `payload` that is not a JSON
 * object, a field given twice, a body that is not JSON). The message names the problem, never the body.
 */
export class MalformedSlackRequestError extends WarrenError {
  constructor(reason: string) {
    super(ErrorCode.MalformedSlackRequestError, reason);
  }
}

/** A workflow step that could not do what its plan said; the run records the message as the step's failure. */
export class StepFailedError extends WarrenError {
  constructor(message: string) {
    super(ErrorCode.StepFailedError, message);
  }
}

/** A replica lost the Redis lock it held for a piece of work (another replica has it now), so it stops there. */
export class LockLostError extends WarrenError {
  constructor(message: string) {
    super(ErrorCode.LockLostError, message);
  }
}

/** A Redis script answered with something other than what warren's own script returns: nothing is assumed. */
export class RedisScriptError extends WarrenError {
  constructor(message: string) {
    super(ErrorCode.RedisScriptError, message);
  }
}

/** The demo (`npm run demo`: simulated OpenStack traffic and injected faults) could not do what it was asked. */
export class DemoError extends WarrenError {
  constructor(message: string) {
    super(ErrorCode.DemoError, message);
  }
}
