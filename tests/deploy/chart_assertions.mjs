// What the chart must render for a full-featured install (ci/full-values.yaml) and for the defaults: the pieces
// issue 7 asks for, checked by kind and name. Usage: node chart_assertions.mjs DEFAULT.yaml FULL.yaml
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';

const load = (f) => yaml.loadAll(readFileSync(f, 'utf8')).filter(Boolean);
const [defaults, full] = process.argv.slice(2).map(load);
let passed = 0;
let failed = 0;
function check(name, ok) {
  if (ok) passed++; else { failed++; console.log(`FAIL ${name}`); }
}
const find = (docs, kind, suffix = '') => docs.filter((d) => d.kind === kind && d.metadata.name.endsWith(suffix));
const one = (docs, kind, suffix) => find(docs, kind, suffix)[0];

for (const [label, docs] of [['defaults', defaults], ['full', full]]) {
  for (const role of ['webhook', 'worker', 'api', 'usage-reporter']) {
    const d = one(docs, 'Deployment', `-${role}`);
    check(`${label}: a Deployment for ${role}`, d);
    if (!d) continue;
    const c = d.spec.template.spec.containers[0];
    check(`${label}: ${role} runs its subcommand`, c.args[0] === role);
    check(`${label}: ${role} has liveness and readiness probes`, c.livenessProbe.httpGet.path === '/healthz' && c.readinessProbe.httpGet.path === '/readyz');
    check(`${label}: ${role} has resources`, c.resources && c.resources.requests && c.resources.limits);
    check(`${label}: ${role} runs as non-root with a read-only root filesystem`,
      d.spec.template.spec.securityContext.runAsNonRoot === true && c.securityContext.readOnlyRootFilesystem === true &&
      c.securityContext.allowPrivilegeEscalation === false);
    check(`${label}: ${role} gets secrets as files, never as values`,
      (c.env || []).every((e) => !/SECRET|KEY|PASSWORD|DATABASE_URL/.test(e.name) || e.name.endsWith('_FILE')));
    check(`${label}: ${role} rolls when settings change`, d.spec.template.metadata.annotations['checksum/config']);
    check(`${label}: a Service for ${role}`, one(docs, 'Service', `-${role}`));
  }
  const job = one(docs, 'Job', '-migrate');
  check(`${label}: migrations run as a pre-install/pre-upgrade hook`, job && job.metadata.annotations['helm.sh/hook'] === 'pre-install,pre-upgrade');
  check(`${label}: the hook migrates`, job && job.spec.template.spec.containers[0].args[0] === 'migrate');
  check(`${label}: and creates the topics first`, job && job.spec.template.spec.initContainers[0].args[0] === 'create-topics');
  check(`${label}: PodDisruptionBudgets`, find(docs, 'PodDisruptionBudget').length >= 3);
}

// Defaults: a Secret from values, no optional pieces.
check('defaults: a Secret with every key', (() => {
  const s = one(defaults, 'Secret', '-secrets');
  return s && ['database-url', 'stripe-api-key', 'webhook-secrets', 'api-keys', 'api-token-secret'].every((k) => k in s.stringData);
})());
check('defaults: a hook Secret for the migration', one(defaults, 'Secret', '-migrate'));
for (const kind of ['HorizontalPodAutoscaler', 'Ingress', 'NetworkPolicy', 'ServiceMonitor', 'ScaledObject']) {
  check(`defaults: no ${kind}`, find(defaults, kind).length === 0);
}

// Full: existingSecret, autoscaling, KEDA, ingresses, network policies, service monitors.
check('full: no chart-made Secret with existingSecret', find(full, 'Secret').length === 0);
check('full: the pods mount the existing Secret',
  find(full, 'Deployment').every((d) => d.spec.template.spec.volumes.find((v) => v.name === 'secrets').secret.secretName === 'billing-secrets'));
check('full: the Kafka password is mounted with SASL', one(full, 'Deployment', '-worker').spec.template.spec.volumes[0].secret.items.some((i) => i.key === 'kafka-password'));
for (const role of ['webhook', 'api']) {
  const hpa = one(full, 'HorizontalPodAutoscaler', `-${role}`);
  check(`full: an HPA for ${role}`, hpa && hpa.spec.scaleTargetRef.name.endsWith(`-${role}`));
  check(`full: ${role} leaves replicas to the HPA`, !('replicas' in one(full, 'Deployment', `-${role}`).spec));
  check(`full: an Ingress for ${role}`, one(full, 'Ingress', `-${role}`));
}
const scaled = one(full, 'ScaledObject', '-worker');
check('full: KEDA scales the workers on consumer lag', scaled && scaled.spec.triggers[0].type === 'kafka' &&
  scaled.spec.triggers[0].metadata.consumerGroup === 'stripe-billing-worker');
check('full: KEDA authenticates to Kafka', scaled && scaled.spec.triggers[0].authenticationRef && one(full, 'TriggerAuthentication'));
check('full: the worker leaves replicas to KEDA', !('replicas' in one(full, 'Deployment', '-worker').spec));
check('full: a NetworkPolicy per role', find(full, 'NetworkPolicy').length === 4);
check('full: the API only from the product namespaces',
  JSON.stringify(one(full, 'NetworkPolicy', '-api').spec.ingress[0].from) === JSON.stringify([{ namespaceSelector: { matchLabels: { team: 'product' } } }]));
check('full: a ServiceMonitor per role', find(full, 'ServiceMonitor').length === 4);
check('full: the billing page may be embedded from the allowed origins',
  one(full, 'ConfigMap').data.BILLING_API_ALLOWED_ORIGINS === 'https://app.example.com');
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
