import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { z } from 'zod';
import { K8sObject } from './kustomize';

/**
 * Validates one manifest: built-in kinds with their `kubernetes-models` class (the
 * Kubernetes OpenAPI schema), the operator kinds (Prometheus Operator, KEDA) with strict
 * schemas of the fields their CRDs define that we use, so a misspelt field fails too.
 */
export function validateManifest(o: K8sObject): void {
  const key = `${o.apiVersion}/${o.kind}`;
  const builtIn = BUILT_IN[key];
  if (builtIn) return builtIn(o);
  const crd = CRDS[key];
  if (!crd) throw new Error(`no schema for ${key} (${o.metadata?.name})`);
  const result = crd.safeParse(o);
  if (!result.success) {
    throw new Error(`${key} ${o.metadata?.name}: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any */
const BUILT_IN: Record<string, (o: K8sObject) => void> = {
  'v1/ConfigMap': (o) => new ConfigMap(o as any).validate(),
  'v1/Secret': (o) => new Secret(o as any).validate(),
  'v1/Service': (o) => new Service(o as any).validate(),
  'v1/ServiceAccount': (o) => new ServiceAccount(o as any).validate(),
  'apps/v1/Deployment': (o) => new Deployment(o as any).validate(),
  'batch/v1/Job': (o) => new Job(o as any).validate(),
  'networking.k8s.io/v1/NetworkPolicy': (o) => new NetworkPolicy(o as any).validate(),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o as any).validate(),
};

const dnsName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).max(63);
const metadata = z
  .object({
    name: dnsName,
    namespace: dnsName.optional(),
    labels: z.record(z.string()).optional(),
    annotations: z.record(z.string()).optional(),
  })
  .strict();
const labelSelector = z.object({ matchLabels: z.record(z.string()) }).strict();
const duration = z.string().regex(/^(\d+(ms|s|m|h|d|w|y))+$/, 'a Prometheus duration like 30s or 5m');

const serviceMonitor = z
  .object({
    apiVersion: z.literal('monitoring.coreos.com/v1'),
    kind: z.literal('ServiceMonitor'),
    metadata,
    spec: z
      .object({
        selector: labelSelector,
        namespaceSelector: z.object({ matchNames: z.array(z.string()) }).strict().optional(),
        endpoints: z
          .array(
            z
              .object({
                port: z.string(),
                path: z.string().startsWith('/'),
                interval: duration,
                scrapeTimeout: duration.optional(),
              })
              .strict(),
          )
          .min(1),
      })
      .strict(),
  })
  .strict();

const alertRule = z
  .object({
    alert: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/),
    expr: z.string().min(1),
    for: duration.optional(),
    labels: z.object({ severity: z.enum(['info', 'warning', 'critical']) }).catchall(z.string()),
    annotations: z
      .object({ summary: z.string().min(1), description: z.string().min(1), runbook_url: z.string().url() })
      .catchall(z.string()),
  })
  .strict();

const prometheusRule = z
  .object({
    apiVersion: z.literal('monitoring.coreos.com/v1'),
    kind: z.literal('PrometheusRule'),
    metadata,
    spec: z
      .object({
        groups: z.array(z.object({ name: z.string().min(1), interval: duration.optional(), rules: z.array(alertRule).min(1) }).strict()).min(1),
      })
      .strict(),
  })
  .strict();

/** KEDA 2.x ScaledObject with a `kafka` trigger (trigger metadata values are strings). */
const scaledObject = z
  .object({
    apiVersion: z.literal('keda.sh/v1alpha1'),
    kind: z.literal('ScaledObject'),
    metadata,
    spec: z
      .object({
        scaleTargetRef: z.object({ apiVersion: z.string().optional(), kind: z.string().optional(), name: dnsName }).strict(),
        minReplicaCount: z.number().int().min(0).optional(),
        maxReplicaCount: z.number().int().min(1).optional(),
        pollingInterval: z.number().int().min(1).optional(),
        cooldownPeriod: z.number().int().min(0).optional(),
        advanced: z
          .object({
            restoreToOriginalReplicaCount: z.boolean().optional(),
            horizontalPodAutoscalerConfig: z
              .object({
                name: z.string().optional(),
                behavior: z
                  .object({
                    scaleUp: z.unknown().optional(),
                    scaleDown: z
                      .object({
                        stabilizationWindowSeconds: z.number().int().min(0).max(3600).optional(),
                        selectPolicy: z.enum(['Max', 'Min', 'Disabled']).optional(),
                        policies: z
                          .array(z.object({ type: z.enum(['Pods', 'Percent']), value: z.number().int().min(1), periodSeconds: z.number().int().min(1).max(1800) }).strict())
                          .optional(),
                      })
                      .strict()
                      .optional(),
                  })
                  .strict()
                  .optional(),
              })
              .strict()
              .optional(),
          })
          .strict()
          .optional(),
        triggers: z
          .array(
            z
              .object({
                type: z.literal('kafka'),
                metadata: z
                  .object({
                    bootstrapServers: z.string().min(1),
                    consumerGroup: z.string().min(1),
                    topic: z.string().optional(),
                    lagThreshold: z.string().regex(/^\d+$/),
                    activationLagThreshold: z.string().regex(/^\d+$/).optional(),
                    offsetResetPolicy: z.enum(['earliest', 'latest']).optional(),
                    allowIdleConsumers: z.enum(['true', 'false']).optional(),
                    limitToPartitionsWithLag: z.enum(['true', 'false']).optional(),
                    scaleToZeroOnInvalidOffset: z.enum(['true', 'false']).optional(),
                  })
                  .strict(),
                authenticationRef: z.object({ name: z.string() }).strict().optional(),
              })
              .strict(),
          )
          .min(1),
      })
      .strict()
      .refine((s) => (s.minReplicaCount ?? 0) <= (s.maxReplicaCount ?? 100), 'minReplicaCount must not exceed maxReplicaCount'),
  })
  .strict();

const CRDS: Record<string, z.ZodTypeAny> = {
  'monitoring.coreos.com/v1/ServiceMonitor': serviceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': prometheusRule,
  'keda.sh/v1alpha1/ScaledObject': scaledObject,
};
