/**
 * The vhost as operators read it in chat, in alerts, plans and step results alike. On clouds with a vhost per
 * service (`/nova`, `/neutron`) a queue or policy name alone is ambiguous, so anything that acts in or reports on
 * one vhost names it; the default vhost `/` is left unsaid in a single name, where it is the common case and would
 * only add noise. Formatting only: it decides nothing about which vhosts a command may see or act in.
 */

export const DEFAULT_VHOST = '/';

/** ` (vhost \`/nova\`)` after a name, or nothing for the default vhost. */
export function inVhost(vhost: string): string {
  return vhost === DEFAULT_VHOST ? '' : ` (vhost \`${vhost}\`)`;
}

/** A queue, exchange or policy name in code style, followed by its vhost unless that is the default one. */
export function nameInVhost(name: string, vhost: string): string {
  return `\`${name}\`${inVhost(vhost)}`;
}

/** `\`/nova\`, \`/neutron\`` (every vhost named, the default one too): for the vhosts a run acts in. */
export function vhostList(vhosts: readonly string[]): string {
  return vhosts.map((v) => `\`${v}\``).join(', ');
}

/** `-p /nova ` for a `rabbitmqctl` / `rabbitmq-streams` hint, or nothing for the default vhost. */
export function vhostOption(vhost: string): string {
  return vhost === DEFAULT_VHOST ? '' : `-p ${vhost} `;
}
