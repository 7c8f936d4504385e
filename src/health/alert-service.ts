/**
 * What people do to alerts from Slack: list the firing ones and the silences, silence an alert or a whole check for
 * a while, end a silence, ack an alert (it shows who is on it and its reminders stop). Each change is shown at once
 * (the reconciler re-renders the alerts it touches) and is read again by every later sweep.
 */
import { formatDuration } from '../config/duration.js';
import { UnknownAlertError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AlertAck } from './alert-message.js';
import type { AlertReconciler } from './alert-reconciler.js';
import type { AlertState } from './alert-state.js';
import type { AlertStore } from './alert-store.js';
import type { HealthCheck } from './health-check.js';
import type { Silence, SilenceStore } from './silences.js';

export interface AlertServiceOptions {
  store: AlertStore;
  silences: SilenceStore;
  checks: readonly HealthCheck[];
  reconciler: AlertReconciler;
  logger: Logger;
  now: () => number;
}

export class AlertService {
  constructor(private readonly options: AlertServiceOptions) {}

  async alerts(): Promise<AlertState[]> {
    return (await this.options.store.all()).filter((a) => a.status === 'firing');
  }

  silences(): Promise<Silence[]> {
    return this.options.silences.active(this.options.now());
  }

  async silence(target: string, durationMs: number, author: string, reason: string): Promise<Silence> {
    const known =
      this.options.checks.some((c) => c.id === target) || (await this.options.store.all()).some((a) => a.id === target);
    if (!known) {
      throw new UnknownAlertError(
        `no alert or check \`${target}\`: use an alert id from \`alerts\` (like \`zombie-queues@prod\`) or a check id`,
      );
    }
    const silence = await this.options.silences.add(
      { target, author, reason, expiresAt: this.options.now() + durationMs },
      this.options.now(),
    );
    this.options.logger.info(
      { silence: silence.id, target, author, for: formatDuration(durationMs) },
      'alerts silenced',
    );
    await this.options.reconciler.refresh((a) => a.id === target || a.check === target);
    return silence;
  }

  async unsilence(id: string): Promise<Silence | undefined> {
    const removed = await this.options.silences.remove(id);
    if (removed) await this.options.reconciler.refresh((a) => a.id === removed.target || a.check === removed.target);
    return removed;
  }

  ackOf(alertId: string): Promise<AlertAck | undefined> {
    return this.options.store.ack(alertId);
  }

  async ack(alertId: string, user: string) {
    const alert = await this.options.store.get(alertId);
    if (alert?.status !== 'firing') return { alert };
    const ack = { user, at: this.options.now() };
    if (!(await this.options.store.setAck(alertId, ack)))
      return { alert, already: await this.options.store.ack(alertId) };
    await this.options.reconciler.refresh((a) => a.id === alertId);
    return { alert, ack };
  }
}
