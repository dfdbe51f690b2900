// Runs `billing <role> --check-config` for every container the chart renders (Deployments and the migration Job's
// create-topics/migrate are checked by their own commands' parsing), with exactly the environment the pod would get:
// the ConfigMap (envFrom), the container's env, and the Secret's keys as files where the pod mounts them. Proves the
// chart's settings are ones the executable accepts. Usage: node check_config.mjs BILLING MANIFESTS.yaml
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';

const [billing, file] = process.argv.slice(2);
const docs = yaml.loadAll(readFileSync(file, 'utf8')).filter(Boolean);
const configMaps = Object.fromEntries(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata.name, d.data]));
const secrets = Object.fromEntries(docs.filter((d) => d.kind === 'Secret').map((d) => [d.metadata.name, d.stringData]));
// With existingSecret the chart renders no Secret: stand-ins of the right shape.
const standIn = {
  'database-url': 'postgresql://billing:pw@postgres:5432/billing', 'stripe-api-key': 'sk_live_0123456789abcdefghijklmn',
  'webhook-secrets': 'whsec_old0123456789abcdef\nwhsec_new0123456789abcdef', 'api-keys': 'bk_0123456789abcdefghijklmnop',
  'api-token-secret': '0123456789abcdef0123456789abcdef0123', 'kafka-password': 'kafka-pw',
};

let passed = 0;
let failed = 0;
const dir = mkdtempSync(path.join(os.tmpdir(), 'chart-config-'));
for (const doc of docs.filter((d) => d.kind === 'Deployment')) {
  const pod = doc.spec.template.spec;
  const volume = (pod.volumes || []).find((v) => v.name === 'secrets');
  const secretData = (volume && secrets[volume.secret.secretName]) || standIn;
  for (const container of pod.containers) {
    const env = { PATH: process.env.PATH };
    for (const source of container.envFrom || []) Object.assign(env, configMaps[source.configMapRef.name]);
    for (const { name, value } of container.env || []) {
      const m = /^\/etc\/billing\/secrets\/(.+)$/.exec(value || '');
      if (m) {
        const target = path.join(dir, `${doc.metadata.name}-${m[1]}`);
        if (!(m[1] in secretData)) throw new Error(`${doc.metadata.name}: secret key ${m[1]} is not in the Secret`);
        writeFileSync(target, secretData[m[1]]);
        env[name] = target;
      } else {
        env[name] = value;
      }
    }
    const result = spawnSync(billing, [...container.args, '--check-config'], { env, encoding: 'utf8' });
    if (result.status === 0) {
      passed++;
    } else {
      failed++;
      console.log(`FAIL ${doc.metadata.name}/${container.name}: exit ${result.status}\n${result.stdout}${result.stderr}`);
    }
  }
}
rmSync(dir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
