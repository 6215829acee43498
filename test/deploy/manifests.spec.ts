import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { dirname, basename } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CompiledRules, compileRules } from '@cdc/rules';
import { cdnConfigFromEnv, checkAliases } from '@cdc/sink-cdn';
import { workerConfigFromEnv } from '../../apps/worker/src/config/worker-config';
import { loadWorkerSettings } from '../../apps/worker/src/config/worker-settings';
import { CodeFacts, libraryReadsEnv } from './code-facts';
import { OVERLAYS, PENDING_IN_CODE, Workload, exampleSecret, one, overlay, renderedSets, resolvedEnv, workloads } from './deploy-set';
import { validateManifest } from './k8s-schemas';
import { K8sObject } from './kustomize';
import { readRepoFile, repoPath } from '../support/repo-files';

const code = new CodeFacts();
const sets = renderedSets();
const allWorkloads = workloads(sets);
const deployments = allWorkloads.filter((w) => w.object.kind === 'Deployment' && w.where.startsWith('overlays/'));
const jobs = allWorkloads.filter((w) => w.object.kind === 'Job');

type Probe = { httpGet?: { path: string; port: string | number } };

describe('deploy/ manifests', () => {
  it('every rendered object validates against its Kubernetes or CRD schema', () => {
    for (const set of sets) {
      assert.ok(set.objects.length > 0, `${set.name} renders nothing`);
      const seen = new Set<string>();
      for (const o of set.objects) {
        assert.doesNotThrow(() => validateManifest(o), `${set.name}: ${o.kind}/${o.metadata.name}`);
        const id = `${o.kind}/${o.metadata.name ?? o.metadata.generateName}`;
        assert.ok(!seen.has(id), `${set.name}: ${id} appears twice`);
        seen.add(id);
      }
    }
  });

  it('overlays deploy into one namespace with a pinned image', () => {
    for (const name of OVERLAYS) {
      for (const o of overlay(name)) assert.equal(o.metadata.namespace, 'cdc-invalidator', `${name}: ${o.kind}/${o.metadata.name}`);
    }
    for (const w of [...deployments, ...jobs]) {
      assert.match(w.container.image ?? '', /^[a-z0-9.-]+\/[a-z0-9/._-]+:[A-Za-z0-9._-]+$/, `${w.where}: image must name a registry and a tag`);
    }
  });

  it('pods run as non-root with a read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    assert.ok(deployments.length === OVERLAYS.length && jobs.length >= 2, 'expected a Deployment per overlay and the Job templates');
    for (const w of [...deployments, ...jobs]) {
      const podSc = w.pod.securityContext as Record<string, unknown>;
      const sc = w.container.securityContext as { [k: string]: unknown; capabilities?: { drop?: string[]; add?: string[] } };
      assert.equal(podSc?.runAsNonRoot, true, `${w.where}: pod runAsNonRoot`);
      assert.ok(typeof podSc?.runAsUser === 'number' && podSc.runAsUser > 0, `${w.where}: numeric non-root runAsUser`);
      assert.deepEqual(podSc?.seccompProfile, { type: 'RuntimeDefault' }, `${w.where}: pod seccompProfile`);
      assert.equal(sc?.runAsNonRoot, true, `${w.where}: container runAsNonRoot`);
      assert.equal(sc?.readOnlyRootFilesystem, true, `${w.where}: readOnlyRootFilesystem`);
      assert.equal(sc?.allowPrivilegeEscalation, false, `${w.where}: allowPrivilegeEscalation`);
      assert.deepEqual(sc?.capabilities?.drop, ['ALL'], `${w.where}: drop ALL capabilities`);
      assert.equal(sc?.capabilities?.add, undefined, `${w.where}: no added capabilities`);
      assert.equal(w.pod.automountServiceAccountToken, false, `${w.where}: no service account token`);
    }
  });

  it('probes call routes the worker serves, on the port it listens on', () => {
    const routes = code.httpGetRoutes();
    for (const w of deployments) {
      const env = resolvedEnv(w.container);
      const port = Number(env.HTTP_PORT ?? workerConfigFromEnv({}).HTTP_PORT);
      const ports = (w.container.ports ?? []) as Array<{ name?: string; containerPort: number }>;
      const probes = { startup: w.container.startupProbe, liveness: w.container.livenessProbe, readiness: w.container.readinessProbe } as Record<string, Probe | undefined>;
      for (const [kind, probe] of Object.entries(probes)) {
        assert.ok(probe?.httpGet, `${w.where}: ${kind} probe must be an httpGet`);
        assert.ok(routes.has(probe.httpGet.path), `${w.where}: ${kind} probe path ${probe.httpGet.path} is not a route (${[...routes].join(', ')})`);
        const target = typeof probe.httpGet.port === 'number' ? probe.httpGet.port : ports.find((p) => p.name === probe.httpGet!.port)?.containerPort;
        assert.equal(target, port, `${w.where}: ${kind} probe port must be HTTP_PORT`);
      }
      assert.equal(probes.liveness!.httpGet!.path, '/healthz', `${w.where}: liveness`);
    }
    // Kafka replicas are Ready when they stream; in postgres mode a standby never streams, so
    // readiness there is /healthz (otherwise rollouts and the PDB deadlock; see the overlay).
    assert.equal(readiness('kafka'), '/readyz');
    assert.equal(readiness('postgres'), '/healthz');
  });

  it('the grace period outlasts SHUTDOWN_TIMEOUT_MS plus the worker\'s own hard-exit margin', () => {
    const margin = hardExitMarginMs();
    for (const w of [...deployments, ...jobs]) {
      const env = resolvedEnv(w.container);
      const shutdownMs = workerConfigFromEnv(env).SHUTDOWN_TIMEOUT_MS;
      const grace = w.pod.terminationGracePeriodSeconds as number;
      assert.ok(grace > shutdownMs / 1000, `${w.where}: terminationGracePeriodSeconds ${grace} <= SHUTDOWN_TIMEOUT_MS/1000`);
      assert.ok(grace * 1000 >= shutdownMs + margin + 5000, `${w.where}: grace ${grace}s leaves < 5 s after the ${(shutdownMs + margin) / 1000}s hard exit`);
    }
  });

  it('memory is limited at >= 384Mi (the design allows 300 MB RSS while draining) and requests are set', () => {
    for (const w of [...deployments, ...jobs]) {
      const r = w.container.resources as { requests?: Record<string, string>; limits?: Record<string, string> };
      assert.ok(r?.requests?.cpu && r.requests.memory, `${w.where}: requests`);
      assert.ok(bytes(r?.limits?.memory) >= 384 * 2 ** 20, `${w.where}: memory limit ${r?.limits?.memory}`);
      assert.ok(bytes(r.requests.memory) <= bytes(r.limits!.memory), `${w.where}: request above limit`);
    }
  });

  it('the rules ConfigMap is mounted as a directory where RULES_FILE points, and its rules compile', () => {
    for (const name of OVERLAYS) {
      const objects = overlay(name);
      const w = deployments.find((d) => d.where === `overlays/${name}: Deployment/cdc-invalidator`)!;
      const rulesFile = workerConfigFromEnv(resolvedEnv(w.container)).RULES_FILE;
      const mounts = (w.container.volumeMounts ?? []) as Array<{ name: string; mountPath: string; subPath?: string; readOnly?: boolean }>;
      const mount = mounts.find((m) => m.mountPath === dirname(rulesFile));
      assert.ok(mount, `${name}: nothing mounted at ${dirname(rulesFile)}`);
      assert.equal(mount.subPath, undefined, `${name}: a subPath mount never receives ConfigMap updates`);
      assert.equal(mount.readOnly, true);
      const volume = (w.pod.volumes as Array<{ name: string; configMap?: { name: string } }>).find((v) => v.name === mount.name);
      const cm = one(objects, 'ConfigMap', volume?.configMap?.name) as K8sObject & { data: Record<string, string> };
      const text = cm.data[basename(rulesFile)];
      assert.ok(text, `${name}: ConfigMap ${cm.metadata.name} has no key ${basename(rulesFile)}`);
      const rules = compileRules(text, rulesFile);
      assert.ok(rules.rules.length > 0);
      const aliases = [
        ...rules.cdnAliases.cloudflare.map((target) => ({ provider: 'cloudflare' as const, target })),
        ...rules.cdnAliases.cloudfront.map((target) => ({ provider: 'cloudfront' as const, target })),
      ];
      assert.deepEqual(checkAliases(aliases, cdnConfigFromEnv(resolvedEnv(w.container))), [], `${name}: CDN aliases of the rules`);
    }
  });

  it('every environment variable a pod sets is one the code reads', (t) => {
    const pending = new Set<string>();
    for (const w of allWorkloads) {
      for (const e of w.container.env ?? []) {
        if (code.filesReadingEnv(e.name).length > 0 || libraryReadsEnv(e.name)) continue;
        assert.ok(PENDING_IN_CODE.env.has(e.name), `${w.where}: ${e.name} is not read by the code`);
        pending.add(e.name);
      }
    }
    for (const name of PENDING_IN_CODE.env) {
      assert.equal(code.filesReadingEnv(name).length, 0, `${name} is read by the code now: remove it from PENDING_IN_CODE`);
    }
    if (pending.size) t.diagnostic(`set but not read by the code yet: ${[...pending].join(', ')}`);
  });

  it('secret references name keys of the documented Secret', () => {
    const secret = exampleSecret();
    for (const w of allWorkloads) {
      for (const e of w.container.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        assert.equal(ref.name, secret.name, `${w.where}: ${e.name}`);
        assert.ok(ref.key in secret.data, `${w.where}: ${e.name} reads key ${ref.key}, which secret.example.yaml lacks`);
      }
      for (const e of w.container.env ?? []) {
        if (/PASSWORD|TOKEN|SECRET|DATABASE_URL/.test(e.name)) assert.equal(e.value, undefined, `${w.where}: ${e.name} must come from the Secret`);
      }
    }
  });

  it('each pod\'s environment passes the worker\'s own validation', () => {
    for (const w of [...deployments, ...jobs]) {
      const env = resolvedEnv(w.container);
      if (w.object.kind === 'Job') env.SOURCE = w.container.args?.[0] === 'replay' ? 'kafka' : 'postgres';
      assert.doesNotThrow(() => loadWorkerSettings(env, { rules: rulesOf(w) }), `${w.where}`);
    }
  });

  it('containers run CLI commands the worker has', (t) => {
    const commands = code.cliCommands();
    const pending = new Set<string>();
    for (const w of [...deployments, ...jobs]) {
      const command = w.container.args?.[0] ?? '';
      if (commands.has(command)) continue;
      assert.ok(PENDING_IN_CODE.commands.has(command), `${w.where}: "${command}" is not a command (${[...commands].join(', ')})`);
      pending.add(command);
    }
    for (const c of PENDING_IN_CODE.commands) assert.ok(!commands.has(c), `"${c}" exists now: remove it from PENDING_IN_CODE`);
    assert.equal(deployments[0].container.args?.[0], 'run');
    if (pending.size) t.diagnostic(`commands not in the CLI yet: ${[...pending].join(', ')}`);
  });

  it('Service, ServiceMonitor, PDB and NetworkPolicy select the worker pods and its HTTP port', () => {
    for (const name of OVERLAYS) {
      const objects = overlay(name);
      const deployment = one(objects, 'Deployment') as K8sObject & { spec: { template: { metadata: { labels: Record<string, string> } } } };
      const podLabels = deployment.spec.template.metadata.labels;
      const selects = (selector: Record<string, string> | undefined) => !!selector && Object.entries(selector).every(([k, v]) => podLabels[k] === v);
      const service = one(objects, 'Service') as K8sObject & { metadata: { labels: Record<string, string> }; spec: { selector: Record<string, string>; ports: Array<{ name: string; targetPort: string }>; publishNotReadyAddresses?: boolean } };
      assert.ok(selects(service.spec.selector), `${name}: Service selector`);
      assert.equal(service.spec.publishNotReadyAddresses, true, `${name}: standbys must be scraped too`);
      const monitor = one(objects, 'ServiceMonitor') as K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string; path: string }> } };
      assert.ok(Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => service.metadata.labels[k] === v), `${name}: ServiceMonitor selects the Service`);
      assert.ok(monitor.spec.endpoints.every((e) => service.spec.ports.some((p) => p.name === e.port)), `${name}: ServiceMonitor port`);
      assert.ok(monitor.spec.endpoints.every((e) => code.httpGetRoutes().has(e.path)), `${name}: metrics path is a route`);
      const pdb = one(objects, 'PodDisruptionBudget') as K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } };
      assert.ok(selects(pdb.spec.selector.matchLabels), `${name}: PDB selector`);
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as Array<K8sObject & { spec: NetworkPolicySpec }>;
      assert.ok(policies.every((p) => selects(p.spec.podSelector.matchLabels)), `${name}: NetworkPolicy podSelector`);
      const ingressPorts = policies.flatMap((p) => p.spec.ingress ?? []).flatMap((r) => r.ports ?? []).map((p) => p.port);
      assert.deepEqual(ingressPorts, [Number(workerConfigFromEnv(resolvedEnv(deployments.find((d) => d.where.startsWith(`overlays/${name}`))!.container)).HTTP_PORT)], `${name}: ingress only to the HTTP port`);
    }
  });

  it('NetworkPolicy egress opens what the configured endpoints need', () => {
    for (const w of [...deployments, ...jobs]) {
      const env = resolvedEnv(w.container);
      const set = w.where.startsWith('overlays/') ? overlay(w.where.split(':')[0].split('/')[1] as (typeof OVERLAYS)[number]) : [...overlay('postgres'), ...overlay('kafka')];
      const egress = new Set(
        (set.filter((o) => o.kind === 'NetworkPolicy') as Array<K8sObject & { spec: NetworkPolicySpec }>)
          .filter((p) => Object.entries(p.spec.podSelector.matchLabels).every(([k, v]) => (w.object.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels[k] === v))
          .flatMap((p) => p.spec.egress ?? [])
          .flatMap((r) => r.ports ?? [])
          .map((p) => `${p.protocol ?? 'TCP'}/${p.port}`),
      );
      const needed = ['UDP/53', 'TCP/53', 'TCP/443'];
      if (env.DATABASE_URL) needed.push(`TCP/${new URL(env.DATABASE_URL).port || 5432}`);
      if (env.REDIS_URL) needed.push(`TCP/${new URL(env.REDIS_URL).port || 6379}`);
      for (const broker of (env.KAFKA_BROKERS ?? '').split(',').filter(Boolean)) needed.push(`TCP/${broker.split(':').pop()}`);
      for (const port of needed) assert.ok(egress.has(port), `${w.where}: egress to ${port} is not allowed`);
    }
  });

  it('postgres mode runs two replicas under leader election; kafka mode leaves replicas to KEDA on the same group', () => {
    const pg = one(overlay('postgres'), 'Deployment') as K8sObject & { spec: { replicas?: number } };
    assert.equal(pg.spec.replicas, 2);
    const pgEnv = resolvedEnv(deployments.find((d) => d.where.startsWith('overlays/postgres'))!.container);
    assert.equal(pgEnv.SOURCE, 'postgres');
    assert.equal(pgEnv.LEADER_ELECTION, 'advisory-lock');

    const kafka = overlay('kafka');
    const deployment = one(kafka, 'Deployment') as K8sObject & { spec: { replicas?: number } };
    assert.equal(deployment.spec.replicas, undefined, 'KEDA owns replicas: the Deployment must not set them');
    const so = one(kafka, 'ScaledObject') as K8sObject & { spec: { scaleTargetRef: { name: string; kind?: string }; minReplicaCount: number; triggers: Array<{ metadata: Record<string, string> }> } };
    assert.equal(so.spec.scaleTargetRef.name, deployment.metadata.name);
    assert.ok(so.spec.minReplicaCount >= 1, 'never scale a cache invalidator to zero');
    const env = resolvedEnv(deployments.find((d) => d.where.startsWith('overlays/kafka'))!.container);
    assert.equal(env.SOURCE, 'kafka');
    for (const trigger of so.spec.triggers) {
      assert.equal(trigger.metadata.consumerGroup, env.KAFKA_GROUP_ID ?? 'cdc-invalidator');
      assert.equal(trigger.metadata.bootstrapServers, env.KAFKA_BROKERS);
    }
  });

  it('the test renderer agrees with `kubectl kustomize` (when kubectl is installed)', (t) => {
    const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      t.skip('kubectl not installed');
      return;
    }
    for (const dir of ['base', ...OVERLAYS.map((o) => `overlays/${o}`)]) {
      const res = spawnSync('kubectl', ['kustomize', repoPath('deploy', dir)], { encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      const theirs = normalize(parseAll(res.stdout));
      const ours = normalize(sets.find((s) => s.name === dir)!.objects);
      assert.deepEqual(ours, theirs, `${dir}: rendered objects differ`);
    }
  });

  it('the Job templates are one-shot, retry-safe and create a new Job per run', () => {
    for (const w of jobs) {
      const spec = w.object.spec as { backoffLimit: number; ttlSecondsAfterFinished?: number; template: { spec: { restartPolicy: string } } };
      assert.ok(w.object.metadata.generateName && !w.object.metadata.name, `${w.where}: use generateName (kubectl create)`);
      assert.equal(spec.template.spec.restartPolicy, 'Never');
      assert.ok(spec.backoffLimit >= 1 && spec.ttlSecondsAfterFinished, `${w.where}: retries and cleanup`);
      const mounts = (w.container.volumeMounts ?? []) as Array<{ mountPath: string; subPath?: string }>;
      assert.ok(mounts.some((m) => m.mountPath === dirname(workerConfigFromEnv(resolvedEnv(w.container)).RULES_FILE) && !m.subPath), `${w.where}: rules mount`);
    }
    assert.deepEqual(jobs.map((j) => j.container.args?.slice(0, 2).join(' ')).sort(), ['backfill postgres', 'replay kafka']);
  });
});

interface NetworkPolicySpec {
  podSelector: { matchLabels: Record<string, string> };
  ingress?: Array<{ ports?: Array<{ port: number; protocol?: string }> }>;
  egress?: Array<{ ports?: Array<{ port: number; protocol?: string }> }>;
}

/** The compiled rules a workload mounts (Jobs use the base's rules ConfigMap). */
function rulesOf(w: Workload): CompiledRules {
  const volume = (w.pod.volumes as Array<{ name: string; configMap?: { name: string } }>).find((v) => v.configMap?.name === 'cdc-invalidator-rules');
  assert.ok(volume, `${w.where}: no rules volume`);
  const set = sets.find((s) => w.where.startsWith(`${s.name}:`) && s.name !== 'jobs') ?? sets.find((s) => s.name === 'base')!;
  const cm = one(set.objects, 'ConfigMap', volume.configMap!.name) as K8sObject & { data: Record<string, string> };
  const rulesFile = workerConfigFromEnv(resolvedEnv(w.container)).RULES_FILE;
  return compileRules(cm.data[basename(rulesFile)], rulesFile);
}

function readiness(name: string): string | undefined {
  const w = deployments.find((d) => d.where.startsWith(`overlays/${name}`)) as Workload;
  return (w.container.readinessProbe as Probe).httpGet?.path;
}

/** The extra time the worker gives itself after SHUTDOWN_TIMEOUT_MS before exiting (run.command.ts). */
function hardExitMarginMs(): number {
  const m = /SHUTDOWN_TIMEOUT_MS\s*\+\s*([\d_]+)/.exec(readRepoFile('apps', 'worker', 'src', 'cli', 'run.command.ts'));
  return m ? Number(m[1].replace(/_/g, '')) : 0;
}

function bytes(quantity: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity ?? '');
  if (!m) return 0;
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 }[m[2] as 'Ki'] ?? 1;
  return Number(m[1]) * unit;
}

function parseAll(text: string): K8sObject[] {
  return parseAllDocuments(text).map((d) => d.toJS() as K8sObject).filter(Boolean);
}

/** Order-insensitive form: objects sorted by kind/name, keyed lists sorted by key. */
function normalize(objects: K8sObject[]): unknown {
  const sortLists = (v: unknown): unknown => {
    if (Array.isArray(v)) {
      const items = v.map(sortLists);
      const key = ['name', 'mountPath', 'containerPort'].find((k) => items.every((i) => typeof i === 'object' && i !== null && k in (i as object)));
      return key ? [...items].sort((a, b) => String((a as Record<string, unknown>)[key]).localeCompare(String((b as Record<string, unknown>)[key]))) : items;
    }
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sortLists(x)]));
    return v;
  };
  return [...objects].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`)).map(sortLists);
}

