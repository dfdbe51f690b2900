// Validates rendered Kubernetes manifests (helm template output) offline against the API schemas shipped in npm
// kubernetes-models (Kubernetes 1.3x core and built-in groups), @kubernetes-models/keda and
// @kubernetes-models/prometheus-operator. Every document must be of a known kind and valid; unknown fields and
// wrong types fail. Usage: node validate_manifests.mjs FILE...   Ends with "N passed, N failed".
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';

const modules = {
  'v1': 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'batch/v1': 'kubernetes-models/batch/v1',
  'policy/v1': 'kubernetes-models/policy/v1',
  'autoscaling/v2': 'kubernetes-models/autoscaling/v2',
  'networking.k8s.io/v1': 'kubernetes-models/networking.k8s.io/v1',
  'keda.sh/v1alpha1': '@kubernetes-models/keda/keda.sh/v1alpha1',
  'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
};

let passed = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  const docs = yaml.loadAll(readFileSync(file, 'utf8')).filter(Boolean);
  if (!docs.length) { failed++; console.log(`FAIL ${file}: no documents`); }
  for (const doc of docs) {
    const name = `${file}: ${doc.kind} ${doc.metadata && doc.metadata.name}`;
    try {
      const path = modules[doc.apiVersion];
      if (!path) throw new Error(`no schema for apiVersion ${doc.apiVersion}`);
      const Model = (await import(path))[doc.kind];
      if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
      new Model(doc).validate();
      passed++;
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e.message}`);
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
