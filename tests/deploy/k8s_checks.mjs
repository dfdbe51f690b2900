// What a real API server stored for a release of the chart (k8s_test.sh). Token: K8S_TOKEN; CA: NODE_EXTRA_CA_CERTS.
//   node k8s_checks.mjs stored SERVER NAMESPACE RELEASE default|full   the objects fit together (prints the checks)
//   node k8s_checks.mjs snapshot SERVER NAMESPACE RELEASE             the Deployments' pod templates, as JSON
//   node k8s_checks.mjs changed BEFORE.json AFTER.json                components whose pod template differs
//   node k8s_checks.mjs gone SERVER NAMESPACE RELEASE                 none of the release's objects is left
//   node k8s_checks.mjs dry-run SERVER NAMESPACE MANIFESTS.yaml       every object passes a server-side dry run
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';

const [mode, ...args] = process.argv.slice(2);
const headers = { Authorization: `Bearer ${process.env.K8S_TOKEN}` };

async function get(server, path) {
  let response = await fetch(server + path, { headers });
  // Right after a CRD is created its storage may still be initializing: 429 with a Retry-After.
  for (let i = 0; response.status === 429 && i < 30; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    response = await fetch(server + path, { headers });
  }
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}
const selects = (selector, labels) => Object.entries(selector || {}).every(([k, v]) => labels && labels[k] === v);
const component = (o) => o.metadata.labels?.['app.kubernetes.io/component'];

// The kinds the chart makes, and where the server keeps them.
const kinds = {
  Deployment: '/apis/apps/v1', Service: '/api/v1', ConfigMap: '/api/v1', Secret: '/api/v1', ServiceAccount: '/api/v1',
  PodDisruptionBudget: '/apis/policy/v1', HorizontalPodAutoscaler: '/apis/autoscaling/v2',
  NetworkPolicy: '/apis/networking.k8s.io/v1', Ingress: '/apis/networking.k8s.io/v1',
  ScaledObject: '/apis/keda.sh/v1alpha1', TriggerAuthentication: '/apis/keda.sh/v1alpha1',
  ServiceMonitor: '/apis/monitoring.coreos.com/v1',
};
const plural = (kind) => ({ Ingress: 'ingresses', NetworkPolicy: 'networkpolicies' }[kind] || `${kind.toLowerCase()}s`);

async function list(server, namespace, release, kind) {
  const selector = encodeURIComponent(`app.kubernetes.io/instance=${release}`);
  const body = await get(server, `${kinds[kind]}/namespaces/${namespace}/${plural(kind)}?labelSelector=${selector}`);
  return body.items;
}

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok || !detail ? '' : `: ${detail}`}`);
}

async function stored(server, namespace, release, values) {
  const full = values === 'full';
  const existingSecret = values === 'default' ? null : 'billing-secrets';  // full and docs name one
  const all = {};
  for (const kind of Object.keys(kinds)) all[kind] = await list(server, namespace, release, kind);
  if (values === 'docs') {  // the Secret the docs create with kubectl (no chart labels)
    all.Secret.push(await get(server, `/api/v1/namespaces/${namespace}/secrets/${existingSecret}`));
  }
  const deployments = all.Deployment;
  const roles = ['webhook', 'worker', 'api', 'usage-reporter'];
  check('a Deployment per role', JSON.stringify(deployments.map(component).sort()) === JSON.stringify([...roles].sort()),
    deployments.map(component).join(','));
  const podsOf = (selector) => deployments.filter((d) => selects(selector, d.spec.template.metadata.labels)).map(component);
  for (const d of deployments) {
    const role = component(d);
    const pod = d.spec.template.spec;
    const container = pod.containers[0];
    check(`${role}: its selector selects its own pods only`, podsOf(d.spec.selector.matchLabels).join() === role);
    check(`${role}: runs '${role}' as non-root`, container.args?.[0] === role && pod.securityContext?.runAsNonRoot === true);
    const http = (container.ports || []).find((p) => p.name === 'http');
    check(`${role}: a port named http`, Boolean(http));
    check(`${role}: probes on /healthz and /readyz at that port`,
      container.livenessProbe?.httpGet?.path === '/healthz' && container.readinessProbe?.httpGet?.path === '/readyz' &&
      [container.livenessProbe.httpGet.port, container.readinessProbe.httpGet.port].every((p) => p === 'http' || p === http?.containerPort));
    check(`${role}: its service account exists`,
      all.ServiceAccount.some((s) => s.metadata.name === pod.serviceAccountName));
    const secretVolume = (pod.volumes || []).find((v) => v.secret);
    const secretName = secretVolume?.secret?.secretName;
    check(`${role}: mounts the release's Secret (${secretName})`,
      (!existingSecret || secretName === existingSecret) && (full || all.Secret.some((s) => s.metadata.name === secretName)));
    check(`${role}: reads the ConfigMap`,
      (container.envFrom || []).every((e) => !e.configMapRef || all.ConfigMap.some((c) => c.metadata.name === e.configMapRef.name)));
    const service = all.Service.find((s) => podsOf(s.spec.selector).join() === role);
    check(`${role}: a Service selects exactly its pods`, Boolean(service));
    check(`${role}: the Service's targetPort is the container's port`,
      Boolean(service) && service.spec.ports.every((p) => p.targetPort === 'http' || p.targetPort === http?.containerPort));
    const pdbs = all.PodDisruptionBudget.filter((p) => selects(p.spec.selector.matchLabels, d.spec.template.metadata.labels));
    check(`${role}: ${full ? 'one PodDisruptionBudget' : 'at most one PodDisruptionBudget'}, selecting only its pods`,
      (full ? pdbs.length === 1 : pdbs.length <= 1) && pdbs.every((p) => podsOf(p.spec.selector.matchLabels).join() === role));
    if (full) {
      const policies = all.NetworkPolicy.filter((p) => selects(p.spec.podSelector.matchLabels, d.spec.template.metadata.labels));
      check(`${role}: one NetworkPolicy selects its pods`, policies.length === 1);
      const policy = policies[0];
      if (policy) {
        const ingressPorts = policy.spec.ingress.flatMap((r) => r.ports.map((p) => p.port));
        check(`${role}: the policy admits its http port`, ingressPorts.some((p) => p === 'http' || p === http?.containerPort));
        const egressPorts = policy.spec.egress.flatMap((r) => (r.ports || []).map((p) => p.port));
        check(`${role}: egress to Kafka (9093)`, egressPorts.includes(9093));
        check(`${role}: egress to PostgreSQL (5432) only where it reads the database`,
          egressPorts.includes(5432) === (role !== 'webhook'));
        const peer = (ns) => JSON.stringify([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } }]);
        if (role === 'webhook') {
          check('webhook: ingress only from the ingress controller namespace, and Prometheus',
            policy.spec.ingress.length === 2 && JSON.stringify(policy.spec.ingress[0].from) === peer('ingress-nginx'));
        }
        if (role === 'webhook' || role === 'api') {
          check(`${role}: Prometheus (metricsFrom) may reach its http port for /metrics`,
            policy.spec.ingress.some((r) => JSON.stringify(r.from) === peer('monitoring') &&
              r.ports.some((p) => p.port === 'http' || p.port === http?.containerPort)));
        } else {
          check(`${role}: its http port (metrics) open to the namespace's scrapers`, policy.spec.ingress.some((r) => !r.from));
        }
      }
      const monitors = all.ServiceMonitor.filter((m) => service && selects(m.spec.selector.matchLabels, service.metadata.labels));
      check(`${role}: a ServiceMonitor selects its Service and scrapes a port the Service has`,
        monitors.length === 1 && monitors[0].spec.endpoints.every((e) => service.spec.ports.some((p) => p.name === e.port)) &&
        monitors[0].spec.endpoints.every((e) => e.path === '/metrics'));
    }
  }
  check('every PodDisruptionBudget selects the pods of exactly one role',
    all.PodDisruptionBudget.every((p) => podsOf(p.spec.selector.matchLabels).length === 1));
  for (const hpa of all.HorizontalPodAutoscaler) {
    check(`HPA ${hpa.metadata.name} scales an existing Deployment`,
      hpa.spec.scaleTargetRef.kind === 'Deployment' && deployments.some((d) => d.metadata.name === hpa.spec.scaleTargetRef.name));
  }
  for (const so of all.ScaledObject) {
    const target = deployments.find((d) => d.metadata.name === so.spec.scaleTargetRef.name);
    check(`ScaledObject ${so.metadata.name} scales the worker Deployment`, target && component(target) === 'worker');
    check('no HPA of the chart competes with KEDA for it',
      !all.HorizontalPodAutoscaler.some((h) => h.spec.scaleTargetRef.name === so.spec.scaleTargetRef.name));
    const auth = so.spec.triggers.map((t) => t.authenticationRef?.name).filter(Boolean);
    check('its triggers authenticate (SASL) with the release\'s TriggerAuthentication',
      auth.length > 0 && auth.every((name) => all.TriggerAuthentication.some((t) => t.metadata.name === name)));
  }
  for (const ingress of all.Ingress) {
    for (const rule of ingress.spec.rules) {
      for (const p of rule.http.paths) {
        const service = all.Service.find((s) => s.metadata.name === p.backend.service.name);
        check(`Ingress ${ingress.metadata.name} (${rule.host}${p.path}) routes to a port its Service has`,
          Boolean(service) && service.spec.ports.some((sp) => sp.name === p.backend.service.port.name || sp.port === p.backend.service.port.number));
      }
    }
  }
  if (values !== 'default') check('an Ingress for the webhook and one for the API', all.Ingress.length === 2);
  if (values === 'default') check('no optional objects by default (HPA, KEDA, NetworkPolicy, ServiceMonitor, Ingress)',
    ['HorizontalPodAutoscaler', 'ScaledObject', 'NetworkPolicy', 'ServiceMonitor', 'Ingress'].every((k) => all[k].length === 0));
}

async function snapshot(server, namespace, release) {
  const out = {};
  for (const d of await list(server, namespace, release, 'Deployment')) out[component(d)] = d.spec.template;
  console.log(JSON.stringify(out));
}

async function gone(server, namespace, release) {
  let left = [];
  for (const kind of Object.keys(kinds)) {
    left = left.concat((await list(server, namespace, release, kind)).map((o) => `${kind}/${o.metadata.name}`));
  }
  check('no object of the release is left (every kind the chart makes)', left.length === 0, left.join(', '));
}

async function dryRun(server, namespace, file) {
  for (const doc of yaml.loadAll(readFileSync(file, 'utf8')).filter(Boolean)) {
    const base = kinds[doc.kind] || (doc.kind === 'Job' ? '/apis/batch/v1' : null);
    if (!base) { check(`${doc.kind} ${doc.metadata.name}: a kind this check knows`, false); continue; }
    const response = await fetch(`${server}${base}/namespaces/${namespace}/${plural(doc.kind)}?dryRun=All&fieldValidation=Strict`, {
      method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(doc),
    });
    check(`${doc.kind} ${doc.metadata.name} (hook) accepted by the server (dry run, strict fields)`, response.status === 201,
      `${response.status} ${await response.text()}`);
  }
}

if (mode === 'stored') await stored(...args);
else if (mode === 'snapshot') { await snapshot(...args); process.exit(0); }
else if (mode === 'changed') {
  const [a, b] = args.map((f) => JSON.parse(readFileSync(f, 'utf8')));
  console.log(Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort().join(' '));
  process.exit(0);
} else if (mode === 'gone') await gone(...args);
else if (mode === 'dry-run') await dryRun(...args);
else { console.error('usage: see the head of k8s_checks.mjs'); process.exit(2); }
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
