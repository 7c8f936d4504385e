/**
 * deploy/kubernetes cannot be applied here (no cluster), so it is kept true by reading it: the probes reach the
 * routes warren serves on the port it listens on, the Secret template provides every variable the ConfigMap's
 * warren.yaml uses, and warren's own config loader accepts that file.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';

const dir = resolve(import.meta.dirname, '..', '..', 'deploy', 'kubernetes');
const read = (name: string) => parse(readFileSync(join(dir, name), 'utf8'));

interface Probe {
  httpGet: { path: string; port: string };
}
interface Container {
  env: Array<{ name: string; value: string }>;
  envFrom: Array<{ secretRef: { name: string } }>;
  ports: Array<{ name: string; containerPort: number }>;
  livenessProbe: Probe;
  readinessProbe: Probe;
  startupProbe: Probe;
  volumeMounts: Array<{ name: string; mountPath: string }>;
  securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean };
}

const deployment = read('deployment.yaml');
const container = deployment.spec.template.spec.containers[0] as Container;
const labels = deployment.spec.template.metadata.labels as Record<string, string>;
const envOf = (name: string) => container.env.find((e) => e.name === name)?.value;

describe('deploy/kubernetes', () => {
  it('holds only valid YAML manifests, each labelled like the Deployment', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual([
      'configmap.yaml',
      'deployment.yaml',
      'pdb.yaml',
      'secret.example.yaml',
      'service.yaml',
    ]);
    for (const file of files) expect(read(file).metadata.labels).toEqual(labels);
  });

  it('runs two non-root replicas with probes on /healthz and /readyz at the port warren listens on', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    const http = container.ports.find((p) => p.name === 'http');
    expect(String(http?.containerPort)).toBe(envOf('PORT'));
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
  });

  it('selects the same pods from the Service and the PodDisruptionBudget, keeping one through drains', () => {
    expect(read('service.yaml').spec.selector).toEqual(labels);
    expect(read('service.yaml').spec.ports[0].targetPort).toBe('http');
    const pdb = read('pdb.yaml');
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
  });

  it("mounts a warren.yaml that warren's loader accepts with the Secret template's variables", () => {
    const configMap = read('configmap.yaml');
    const secret = read('secret.example.yaml');
    expect(container.envFrom).toEqual([{ secretRef: { name: secret.metadata.name } }]);
    const mount = container.volumeMounts.find((m) => m.name === 'config');
    expect(envOf('WARREN_CONFIG')).toBe(`${mount?.mountPath}/warren.yaml`);

    const text = configMap.data['warren.yaml'] as string;
    const used = [...text.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1] as string);
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(Object.keys(secret.stringData)).toContain(name);

    const tmp = mkdtempSync(join(tmpdir(), 'warren-k8s-'));
    try {
      writeFileSync(join(tmp, 'warren.yaml'), text);
      const env = {
        ...Object.fromEntries(Object.entries(secret.stringData as Record<string, string>)),
        SLACK_BOT_TOKEN: 'xoxb-1-2-test',
        WARREN_CONFIG: join(tmp, 'warren.yaml'),
        PORT: envOf('PORT'),
      };
      const config = loadConfig({ env, cwd: tmp });
      expect(config.clusters[0]?.management).toHaveLength(3);
      expect(config.clusters[0]?.prometheus).toHaveLength(3);
      expect(config.clusters[0]?.managementPassword).toBe('REPLACE-ME');
      expect(config.slack.mode).toBe('http');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
