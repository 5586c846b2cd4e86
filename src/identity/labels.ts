// The labels Istio reads off a pod: `app` and `version` (what subsets and policy
// selectors match, and what telemetry's canonical service and revision default to).
// Every pod mesh-sim runs or exports carries exactly these.

export function podLabelsOf(service: string, version: string): Record<string, string> {
  return {
    app: service,
    version,
    'service.istio.io/canonical-name': service,
    'service.istio.io/canonical-revision': version,
  };
}
