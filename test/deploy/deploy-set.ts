import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { K8sObject, PodSpecLike, podSpecOf, readYamlObjects, renderKustomization } from './kustomize';
import { repoPath } from '../support/repo-files';

/** What a Kubernetes user applies, rendered: each overlay (and the base), the Job templates, the Secret example. */
export interface DeploySet {
  readonly name: string;
  readonly objects: K8sObject[];
}

export const OVERLAYS = ['postgres', 'kafka'] as const;

export function renderedSets(): DeploySet[] {
  return [
    { name: 'base', objects: renderKustomization(repoPath('deploy', 'base')) },
    ...OVERLAYS.map((o) => ({ name: `overlays/${o}`, objects: renderKustomization(repoPath('deploy', 'overlays', o)) })),
    { name: 'jobs', objects: jobFiles().flatMap((f) => readYamlObjects(f)) },
    { name: 'secret.example.yaml', objects: readYamlObjects(repoPath('deploy', 'secret.example.yaml')) },
  ];
}

export function jobFiles(): string[] {
  const dir = repoPath('deploy', 'jobs');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(dir, f));
}

export function overlay(name: (typeof OVERLAYS)[number]): K8sObject[] {
  return renderKustomization(repoPath('deploy', 'overlays', name));
}

export function one(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? `/${name}` : ''}, found ${found.length}`);
  return found[0];
}

/** The example Secret's keys and values (what `secretKeyRef`s resolve to in these tests). */
export function exampleSecret(): { name: string; data: Record<string, string> } {
  const s = readYamlObjects(repoPath('deploy', 'secret.example.yaml'))[0] as K8sObject & { stringData: Record<string, string> };
  return { name: s.metadata.name!, data: s.stringData };
}

export interface EnvEntry {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: unknown; fieldRef?: unknown };
}

export interface Workload {
  readonly where: string;
  readonly object: K8sObject;
  readonly pod: PodSpecLike;
  readonly container: PodSpecLike['containers'][number] & { env?: EnvEntry[]; args?: string[] };
}

/** Every container of every Deployment and Job across the sets. */
export function workloads(sets: DeploySet[] = renderedSets()): Workload[] {
  const out: Workload[] = [];
  for (const set of sets) {
    for (const object of set.objects) {
      const pod = podSpecOf(object);
      if (!pod) continue;
      for (const container of pod.containers) out.push({ where: `${set.name}: ${object.kind}/${object.metadata.name ?? object.metadata.generateName}`, object, pod, container });
    }
  }
  return out;
}

/** A container's environment as the process would see it, secrets taken from the example Secret. */
export function resolvedEnv(container: Workload['container']): Record<string, string> {
  const secret = exampleSecret();
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    const ref = e.valueFrom?.secretKeyRef;
    if (ref && ref.name === secret.name && secret.data[ref.key] !== undefined) env[e.name] = secret.data[ref.key];
  }
  return env;
}

/**
 * Names the deployment files use that the code does not provide yet: each is still being
 * written by another part of the project. The tests report them and fail once one lands, so
 * the entry is removed instead of lingering.
 */
export const PENDING_IN_CODE = {
  env: new Set<string>([]),
  metrics: new Set<string>([]),
  commands: new Set<string>([]),
};
