/**
 * Owns running the checks over one snapshot and what each run came to. Pure apart from the error callback: the
 * sweep, `/rabbit health` and the metrics all read one `CheckResult` per check, so the three outcomes (findings,
 * not applicable on this broker version, could not run) are decided here once.
 */
import { notApplicableOn } from '../management/broker-version.js';
import { type ClusterSnapshot, hasParts, snapshotVersion } from './cluster-snapshot.js';
import type { Finding } from './finding.js';
import type { CheckContext, HealthCheck } from './health-check.js';

/**
 * One check's outcome in one evaluation, exactly one of: findings (passed when empty), not applicable on this
 * broker version or without a part this cluster's configuration never provides (with the reason), or could not run (`skipped`: a part it needs is missing, or it threw).
 */
export interface CheckResult {
  check: HealthCheck;
  findings?: Finding[];
  notApplicable?: string;
  skipped?: string;
}

export type CheckOutcome = 'passed' | 'found' | 'not_applicable' | 'could_not_run';

export function outcomeOf(result: CheckResult): CheckOutcome {
  if (result.notApplicable !== undefined) return 'not_applicable';
  if (!result.findings) return 'could_not_run';
  return result.findings.length === 0 ? 'passed' : 'found';
}

export function runChecks(
  checks: readonly HealthCheck[],
  snapshot: ClusterSnapshot,
  context: CheckContext,
  onError: (check: HealthCheck, error: unknown) => void = () => undefined,
): CheckResult[] {
  const version = snapshotVersion(snapshot);
  const withVersion: CheckContext = version ? { ...context, version } : context;
  return checks.map((check): CheckResult => {
    if (check.appliesTo) {
      if (!version) {
        const why = snapshot.errors.nodes ? `nodes: ${snapshot.errors.nodes}` : 'no node told it';
        return { check, skipped: `the broker version is unknown (${why})` };
      }
      if (!check.appliesTo(version)) return { check, notApplicable: notApplicableOn(version) };
    }
    const unavailable = check.needs.find((p) => snapshot.unavailable?.[p] !== undefined);
    if (unavailable) return { check, notApplicable: snapshot.unavailable?.[unavailable] as string };
    if (!hasParts(snapshot, check.needs)) {
      const missing = check.needs.filter((p) => p !== 'endpoints' && snapshot[p] === undefined);
      return { check, skipped: missing.map((p) => `${p}: ${snapshot.errors[p] ?? 'not fetched'}`).join('; ') };
    }
    try {
      return { check, findings: check.evaluate(snapshot, withVersion) };
    } catch (error) {
      onError(check, error);
      return { check, skipped: `the check failed: ${error instanceof Error ? error.message : String(error)}` };
    }
  });
}
