/**
 * The `accept-encoding` header for a cluster's HTTP reads. axios asks for gzip unless told otherwise, and near the
 * cluster that costs more than it saves: the broker compresses each answer (megabytes for a whole-cluster listing)
 * and warren inflates it again, where sending it as it is takes milliseconds (clusters[].httpCompression).
 */
export function acceptEncoding(compression: boolean | undefined): Record<string, string> {
  return compression ? {} : { 'accept-encoding': 'identity' };
}
