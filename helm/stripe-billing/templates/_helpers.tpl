{{/* Names, labels and the pieces every role shares. */}}

{{- define "billing.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "billing.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "billing.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "billing.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* selector labels of one role: (dict "root" $ "role" "webhook") */}}
{{- define "billing.selectorLabels" -}}
app.kubernetes.io/name: {{ include "billing.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "billing.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "billing.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-secrets" (include "billing.fullname" .)) -}}
{{- end -}}

{{- define "billing.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "billing.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* The secret keys a role reads, as files (never as environment values): (dict "root" $ "keys" (list ...)) */}}
{{- define "billing.secretVolume" -}}
- name: secrets
  secret:
    secretName: {{ include "billing.secretName" .root }}
    defaultMode: 0400
    items:
    {{- range .keys }}
      - key: {{ . }}
        path: {{ . }}
    {{- end }}
    {{- if .root.Values.kafka.saslMechanism }}
      - key: kafka-password
        path: kafka-password
    {{- end }}
{{- end -}}

{{- define "billing.secretEnv" -}}
{{- range .keys }}
- name: {{ get (dict "database-url" "BILLING_DATABASE_URL_FILE" "stripe-api-key" "BILLING_STRIPE_API_KEY_FILE" "webhook-secrets" "BILLING_WEBHOOK_SECRETS_FILE" "api-keys" "BILLING_API_KEYS_FILE" "api-token-secret" "BILLING_API_TOKEN_SECRET_FILE") . }}
  value: /etc/billing/secrets/{{ . }}
{{- end }}
{{- if .root.Values.kafka.saslMechanism }}
- name: BILLING_KAFKA_SASL_PASSWORD_FILE
  value: /etc/billing/secrets/kafka-password
{{- end }}
{{- end -}}

{{/* Rolls a role's pods when the settings change, or the secret keys that role reads (so a new webhook secret
     rolls only the webhook receivers). (dict "root" $ "role" ROLE) */}}
{{- define "billing.checksums" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- if not .root.Values.existingSecret }}
{{- $data := include "billing.secretData" .root | fromYaml }}
{{- $parts := list }}
{{- range $key := include "billing.roleSecretKeys" .role | fromJsonArray }}
{{- $parts = append $parts (printf "%s=%s" $key (get $data $key)) }}
{{- end }}
{{- if .root.Values.kafka.saslMechanism }}
{{- $parts = append $parts (printf "kafka-password=%s" (get $data "kafka-password")) }}
{{- end }}
checksum/secret: {{ join "\n" $parts | sha256sum }}
{{- end }}
{{- end -}}

{{/* The chart's own Secret's keys and values (secret.yaml, and the checksums above). */}}
{{- define "billing.secretData" -}}
database-url: {{ required "secrets.databaseUrl is required (or set existingSecret)" .Values.secrets.databaseUrl | quote }}
stripe-api-key: {{ required "secrets.stripeApiKey is required (or set existingSecret)" .Values.secrets.stripeApiKey | quote }}
webhook-secrets: {{ required "secrets.webhookSecrets needs at least one whsec_... (or set existingSecret)" (join "\n" .Values.secrets.webhookSecrets) | quote }}
api-keys: {{ required "secrets.apiKeys needs at least one key (or set existingSecret)" (join "\n" .Values.secrets.apiKeys) | quote }}
api-token-secret: {{ required "secrets.apiTokenSecret is required (or set existingSecret)" .Values.secrets.apiTokenSecret | quote }}
{{- if .Values.kafka.saslMechanism }}
kafka-password: {{ required "secrets.kafkaPassword is required with kafka.saslMechanism" .Values.secrets.kafkaPassword | quote }}
{{- end }}
{{- end -}}

{{/* The values key of a role ("usage-reporter" -> usageReporter) */}}
{{- define "billing.roleKey" -}}
{{- if eq . "usage-reporter" }}usageReporter{{ else }}{{ . }}{{ end -}}
{{- end -}}

{{/* The secret keys each role reads. */}}
{{- define "billing.roleSecretKeys" -}}
{{- if eq . "webhook" }}["webhook-secrets"]
{{- else if eq . "api" }}["database-url", "stripe-api-key", "api-keys", "api-token-secret"]
{{- else }}["database-url", "stripe-api-key"]
{{- end -}}
{{- end -}}

{{/* The role's listen-address variable (its /healthz, /readyz and /metrics are on its port). */}}
{{- define "billing.roleHostEnv" -}}
{{- get (dict "webhook" "BILLING_WEBHOOK_HOST" "worker" "BILLING_WORKER_HOST" "api" "BILLING_API_HOST" "usage-reporter" "BILLING_USAGE_HOST") . -}}
{{- end -}}

{{/* The migration Job's settings, inline (its hook runs before the ConfigMap exists). */}}
{{- define "billing.jobEnv" -}}
- {name: BILLING_DATABASE_URL_FILE, value: /etc/billing/secrets/database-url}
- {name: BILLING_LOG_LEVEL, value: {{ .Values.logLevel | quote }}}
- {name: BILLING_KAFKA_BROKERS, value: {{ required "kafka.brokers is required" .Values.kafka.brokers | quote }}}
- {name: BILLING_KAFKA_SECURITY_PROTOCOL, value: {{ .Values.kafka.securityProtocol | quote }}}
{{- if .Values.kafka.saslMechanism }}
- {name: BILLING_KAFKA_SASL_MECHANISM, value: {{ .Values.kafka.saslMechanism | quote }}}
- {name: BILLING_KAFKA_SASL_USERNAME, value: {{ .Values.kafka.saslUsername | quote }}}
- {name: BILLING_KAFKA_SASL_PASSWORD_FILE, value: /etc/billing/secrets/kafka-password}
{{- end }}
- {name: BILLING_KAFKA_EVENTS_TOPIC, value: {{ .Values.kafka.eventsTopic | quote }}}
- {name: BILLING_KAFKA_USAGE_TOPIC, value: {{ .Values.kafka.usageTopic | quote }}}
- {name: BILLING_KAFKA_EVENTS_PARTITIONS, value: {{ .Values.kafka.eventsPartitions | int64 | quote }}}
- {name: BILLING_KAFKA_USAGE_PARTITIONS, value: {{ .Values.kafka.usagePartitions | int64 | quote }}}
- {name: BILLING_KAFKA_REPLICATION_FACTOR, value: {{ .Values.kafka.replicationFactor | int64 | quote }}}
{{- end -}}
