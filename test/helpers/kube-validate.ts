// Kubernetes and Istio objects checked against the real schemas: kubernetes-models for
// Kubernetes' own kinds, @kubernetes-models/istio for Istio's (Istio's v1 APIs are its
// v1beta1 schemas promoted unchanged, so v1 objects are checked against v1beta1's).

import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as batch from 'kubernetes-models/batch/v1';
import * as networking from '@kubernetes-models/istio/networking.istio.io/v1beta1';
import * as security from '@kubernetes-models/istio/security.istio.io/v1beta1';

type Model = new (data: Record<string, unknown>) => { validate(): void };

const MODELS: Record<string, Record<string, Model>> = {
  v1: { Namespace: core.Namespace, ServiceAccount: core.ServiceAccount, Service: core.Service, ConfigMap: core.ConfigMap } as unknown as Record<string, Model>,
  'apps/v1': { Deployment: apps.Deployment } as unknown as Record<string, Model>,
  'batch/v1': { Job: batch.Job } as unknown as Record<string, Model>,
  'networking.istio.io/v1beta1': networking as unknown as Record<string, Model>,
  'security.istio.io/v1beta1': security as unknown as Record<string, Model>,
};

const SCHEMA_VERSION: Record<string, string> = {
  'networking.istio.io/v1': 'networking.istio.io/v1beta1',
  'networking.istio.io/v1alpha3': 'networking.istio.io/v1beta1',
  'security.istio.io/v1': 'security.istio.io/v1beta1',
};

/** Validates one object; throws naming its kind, name and what the schema says. */
export function validateObject(doc: Record<string, unknown>): void {
  const apiVersion = String(doc.apiVersion);
  const kind = String(doc.kind);
  const schemaVersion = SCHEMA_VERSION[apiVersion] ?? apiVersion;
  const model = MODELS[schemaVersion]?.[kind];
  const name = (doc.metadata as { name?: string } | undefined)?.name;
  if (!model) throw new Error(`${apiVersion} ${kind} ${name}: no schema known for it`);
  try {
    new model({ ...doc, apiVersion: schemaVersion }).validate();
  } catch (error) {
    throw new Error(`${apiVersion} ${kind} ${name}: ${(error as Error).message}`);
  }
}
