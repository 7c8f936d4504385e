/**
 * The vhost part of an AMQP URL. An AMQP connection is opened in one vhost, named by the URL's path with the leading
 * slash removed and the rest percent-decoded (the AMQP URI spec), so the vhost `/nova` is `amqp://host/%2Fnova` and
 * an empty path means the default vhost `/`. Only the path is touched: credentials and query stay as they are.
 */

/** The vhost an AMQP URL connects to. */
export function amqpUrlVhost(url: string): string {
  const path = new URL(url).pathname;
  return path === '' || path === '/' ? '/' : decodeURIComponent(path.slice(1));
}

/** The same URL, connecting to `vhost` instead. */
export function withAmqpVhost(url: string, vhost: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(vhost)}`;
  return parsed.toString();
}
