import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * A small Kustomize renderer for exactly the features deploy/ uses, so the tests run where
 * `kustomize` is not installed: resources (files and directories), namespace, images,
 * strategic-merge patches by path, and configMapGenerator (files, labels) with
 * disableNameSuffixHash. Anything else in a kustomization.yaml is refused, so a new feature
 * cannot be silently ignored. When kubectl is available, the tests compare this output with
 * `kubectl kustomize`.
 */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name?: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'patches', 'configMapGenerator', 'generatorOptions']);

/** Kinds that live in a namespace (the subset deploy/ uses), for the namespace transformer. */
const NAMESPACED = new Set([
  'ConfigMap', 'Secret', 'Service', 'ServiceAccount', 'Deployment', 'Job', 'PodDisruptionBudget',
  'NetworkPolicy', 'ServiceMonitor', 'PrometheusRule', 'ScaledObject',
]);

/** List fields merged by a key (Kubernetes' patchMergeKey), as strategic merge does. */
const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
};

export function readYamlObjects(path: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  const out: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as K8sObject | null;
    if (value !== null) out.push(value);
  }
  return out;
}

export function renderKustomization(dir: string): K8sObject[] {
  const file = join(dir, 'kustomization.yaml');
  const k = readYamlObjects(file)[0] as unknown as Kustomization;
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) throw new Error(`${file}: "${key}" is not supported by the test renderer (extend test/deploy/kustomize.ts)`);
  }
  let objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const path = join(dir, resource);
    objects.push(...(statSync(path).isDirectory() ? renderKustomization(path) : readYamlObjects(path)));
  }
  for (const gen of k.configMapGenerator ?? []) {
    if (!k.generatorOptions?.disableNameSuffixHash) throw new Error(`${file}: configMapGenerator without disableNameSuffixHash is not supported`);
    objects.push(generateConfigMap(dir, gen, k.generatorOptions));
  }
  for (const patch of k.patches ?? []) {
    if (!patch.path || patch.target || patch.patch) throw new Error(`${file}: only patches with a path are supported`);
    for (const p of readYamlObjects(join(dir, patch.path))) {
      const i = objects.findIndex((o) => o.kind === p.kind && o.metadata.name === p.metadata.name);
      if (i < 0) throw new Error(`${file}: patch ${patch.path} matches no ${p.kind}/${p.metadata.name}`);
      objects[i] = strategicMerge(objects[i], p, '') as K8sObject;
    }
  }
  if (k.images) objects = objects.map((o) => setImages(o, k.images ?? []));
  if (k.namespace) {
    objects = objects.map((o) => (NAMESPACED.has(o.kind) ? { ...o, metadata: { ...o.metadata, namespace: k.namespace } } : o));
  }
  return objects;
}

interface Kustomization {
  resources?: string[];
  namespace?: string;
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
  patches?: Array<{ path?: string; target?: unknown; patch?: string }>;
  configMapGenerator?: ConfigMapGenerator[];
  generatorOptions?: { disableNameSuffixHash?: boolean; labels?: Record<string, string> };
}

interface ConfigMapGenerator {
  name: string;
  files?: string[];
  literals?: string[];
  options?: { labels?: Record<string, string> };
}

function generateConfigMap(dir: string, gen: ConfigMapGenerator, options: Kustomization['generatorOptions']): K8sObject {
  const data: Record<string, string> = {};
  for (const entry of gen.files ?? []) {
    const [key, path] = entry.includes('=') ? entry.split('=', 2) : [basename(entry), entry];
    const full = join(dir, path);
    if (dirname(full) !== dir && !full.startsWith(dir + '/')) throw new Error(`${entry}: outside the kustomization root`);
    data[key] = readFileSync(full, 'utf8');
  }
  for (const literal of gen.literals ?? []) {
    const i = literal.indexOf('=');
    data[literal.slice(0, i)] = literal.slice(i + 1);
  }
  const labels = { ...(options?.labels ?? {}), ...(gen.options?.labels ?? {}) };
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: gen.name, ...(Object.keys(labels).length ? { labels } : {}) },
    data,
  };
}

/** Strategic merge: maps merge, null deletes, keyed lists merge by key, other lists are replaced. */
export function strategicMerge(base: unknown, patch: unknown, field: string): unknown {
  if (patch === null) return undefined;
  if (Array.isArray(patch)) {
    const key = MERGE_KEYS[field];
    if (!key || !Array.isArray(base)) return patch;
    const out = [...base] as Array<Record<string, unknown>>;
    for (const item of patch as Array<Record<string, unknown>>) {
      const i = out.findIndex((o) => o[key] === item[key]);
      if (item.$patch === 'delete') {
        if (i >= 0) out.splice(i, 1);
      } else if (i >= 0) out[i] = strategicMerge(out[i], item, '') as Record<string, unknown>;
      else out.push(item);
    }
    return out;
  }
  if (isMap(patch) && isMap(base)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(patch)) {
      const merged = strategicMerge(base[k], v, k);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
    return out;
  }
  return patch;
}

function setImages(o: K8sObject, images: NonNullable<Kustomization['images']>): K8sObject {
  const podSpec = podSpecOf(o);
  if (!podSpec) return o;
  const rewrite = <C extends { image?: string }>(c: C): C => {
    const name = c.image?.replace(/[@:][^/]*$/, '');
    const rule = images.find((i) => i.name === name);
    if (!rule || !c.image) return c;
    const tag = rule.newTag ?? c.image.slice(name!.length + 1);
    return { ...c, image: `${rule.newName ?? name}${tag ? `:${tag}` : ''}` };
  };
  const spec = { ...podSpec, containers: podSpec.containers.map(rewrite) };
  if (podSpec.initContainers) spec.initContainers = podSpec.initContainers.map(rewrite);
  return withPodSpec(o, spec);
}

export interface PodSpecLike {
  containers: Array<Record<string, unknown> & { name: string; image?: string }>;
  initContainers?: Array<Record<string, unknown> & { name: string; image?: string }>;
  [k: string]: unknown;
}

/** The pod spec of a Deployment or Job, or undefined for other kinds. */
export function podSpecOf(o: K8sObject): PodSpecLike | undefined {
  if (o.kind !== 'Deployment' && o.kind !== 'Job') return undefined;
  return ((o.spec as Record<string, unknown>).template as Record<string, unknown>).spec as PodSpecLike;
}

function withPodSpec(o: K8sObject, spec: PodSpecLike): K8sObject {
  const s = o.spec as Record<string, unknown>;
  const template = s.template as Record<string, unknown>;
  return { ...o, spec: { ...s, template: { ...template, spec } } };
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function kustomizationExists(dir: string): boolean {
  return existsSync(join(dir, 'kustomization.yaml'));
}
