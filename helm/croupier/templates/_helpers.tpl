{{/* Chart name, truncated to the 63 characters Kubernetes allows in a name. */}}
{{- define "croupier.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release-chart unless the release name already holds the chart name. */}}
{{- define "croupier.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "croupier.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "croupier.labels" -}}
helm.sh/chart: {{ include "croupier.chart" . }}
{{ include "croupier.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "croupier.selectorLabels" -}}
app.kubernetes.io/name: {{ include "croupier.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The `helm test` Pod's labels: deliberately not matching croupier.selectorLabels. */}}
{{- define "croupier.testLabels" -}}
app.kubernetes.io/name: {{ include "croupier.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}

{{- define "croupier.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "croupier.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@sha256:... when image.digest is set (the digest is what is pulled). */}}
{{- define "croupier.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Recreate in embedded mode (one pod owns the state and the decision-id secret), else the value or RollingUpdate. */}}
{{- define "croupier.strategyType" -}}
{{- if .Values.strategy.type }}{{ .Values.strategy.type }}{{ else if include "croupier.redisEnabled" . }}RollingUpdate{{ else }}Recreate{{ end }}
{{- end }}

{{/* "true" when more than one pod can run at once in steady state (a PDB then makes sense). */}}
{{- define "croupier.severalPods" -}}
{{- if .Values.autoscaling.enabled }}{{ if gt (int .Values.autoscaling.minReplicas) 1 }}true{{ end }}{{ else if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- end }}

{{/* "true" when any Redis setting is given (shared state), else "" (embedded). */}}
{{- define "croupier.redisEnabled" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret .Values.redis.sentinels .Values.redis.clusterNodes }}true{{ end }}
{{- end }}

{{/* The admin Service: a Service name is a DNS label (63 characters), so the suffix is kept and the rest cut. */}}
{{- define "croupier.adminServiceName" -}}
{{- printf "%s-admin" (include "croupier.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{/* The chart's own Secret: inline admin tokens and/or an inline Redis URL. */}}
{{- define "croupier.secretName" -}}
{{- printf "%s-secrets" (include "croupier.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "croupier.hasTokens" -}}
{{- if or .Values.adminTokens.existingSecret .Values.adminTokens.inline }}true{{ end }}
{{- end }}

{{/* Refuses values that would deploy a broken gateway, with a message that says what to change. */}}
{{- define "croupier.validate" -}}
{{- if and (or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled) (not (include "croupier.redisEnabled" .)) }}
{{- fail "croupier: several replicas (replicaCount > 1 or autoscaling.enabled) need shared state: set redis.url, redis.existingSecret, redis.sentinels or redis.clusterNodes" }}
{{- end }}
{{- if and .Values.redis.sentinels (not .Values.redis.name) }}
{{- fail "croupier: redis.sentinels needs redis.name (the Sentinel master group name)" }}
{{- end }}
{{- if and (ne .Values.models.source "image") (ne .Values.models.source "existingClaim") (ne .Values.models.source "emptyDir") }}
{{- fail "croupier: models.source must be image, existingClaim or emptyDir" }}
{{- end }}
{{- if and (eq .Values.models.source "existingClaim") (not .Values.models.existingClaim) }}
{{- fail "croupier: models.source=existingClaim needs models.existingClaim" }}
{{- end }}
{{- if and .Values.admin.service.enabled (not .Values.admin.port) }}
{{- fail "croupier: admin.service.enabled needs admin.port (the admin API's own listener)" }}
{{- end }}
{{- if and .Values.admin.port (eq (int .Values.admin.port) (int .Values.containerPort)) }}
{{- fail "croupier: admin.port must differ from containerPort (the data-plane port)" }}
{{- end }}
{{- if and (or .Values.ingress.enabled .Values.httpRoute.enabled) (not .Values.admin.port) }}
{{- fail "croupier: ingress.enabled / httpRoute.enabled need admin.port: with the admin API on the data-plane port they would publish /admin" }}
{{- end }}
{{- if and (eq (include "croupier.strategyType" .) "RollingUpdate") (not (include "croupier.redisEnabled" .)) }}
{{- fail "croupier: strategy.type=RollingUpdate needs Redis: in embedded mode the old and the new pod would both need the state volume (a ReadWriteOnce claim never attaches twice) and would sign decisions with different secrets; leave strategy.type empty (Recreate)" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled .Values.podMonitor.enabled }}
{{- fail "croupier: enable serviceMonitor or podMonitor, not both (every sample would be scraped twice)" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (not .Values.autoscaling.targetCPUUtilizationPercentage) (not .Values.autoscaling.queueDepth.enabled) }}
{{- fail "croupier: autoscaling needs a metric: autoscaling.targetCPUUtilizationPercentage and/or autoscaling.queueDepth.enabled" }}
{{- end }}
{{- $floor := add (int .Values.preStop.sleepSeconds) (div (int .Values.drainTimeoutMs) 1000) }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $floor) }}
{{- fail (printf "croupier: terminationGracePeriodSeconds (%d) must exceed preStop.sleepSeconds + drainTimeoutMs/1000 (%d), or Kubernetes kills the pod mid-drain" (int .Values.terminationGracePeriodSeconds) (int $floor)) }}
{{- end }}
{{- end }}

{{/* The retrain CronJob (and its Secret): the suffix is kept and the rest cut, as for the admin Service. */}}
{{- define "croupier.retrainName" -}}
{{- printf "%s-retrain" (include "croupier.fullname" . | trunc 52 | trimSuffix "-") }}
{{- end }}

{{/* The retrain Job's pods: not the gateway's selector labels; the NetworkPolicy lets them reach the admin API. */}}
{{- define "croupier.retrainLabels" -}}
app.kubernetes.io/name: {{ include "croupier.name" . }}-retrain
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: retrain
{{- end }}

{{/* Where the retrain Job reaches the admin API: the admin Service, or the data-plane Service when the admin API shares its port. */}}
{{- define "croupier.retrainUrl" -}}
{{- if .Values.admin.port }}
{{- printf "http://%s:%v" (include "croupier.adminServiceName" .) .Values.admin.service.port }}
{{- else }}
{{- printf "http://%s:%v" (include "croupier.fullname" .) .Values.service.port }}
{{- end }}
{{- end }}

{{/* CROUPIER_ADMIN_TOKEN for the retrain Job, from its own Secret. */}}
{{- define "croupier.retrainToken" -}}
- name: CROUPIER_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      {{- if .Values.retrain.token.existingSecret }}
      name: {{ .Values.retrain.token.existingSecret }}
      key: {{ .Values.retrain.token.existingSecretKey }}
      {{- else }}
      name: {{ include "croupier.retrainName" . }}
      key: token
      {{- end }}
{{- end }}

{{/* Refuses a retrain CronJob that could not work, saying what to set. */}}
{{- define "croupier.validateRetrain" -}}
{{- if or (not .Values.retrain.model) (not .Values.retrain.route) }}
{{- fail "croupier: retrain.enabled needs retrain.model and retrain.route (the model to retrain on the rows of that route)" }}
{{- end }}
{{- if and (not .Values.retrain.token.existingSecret) (not .Values.retrain.token.inline) }}
{{- fail "croupier: retrain.enabled needs its own admin token: retrain.token.existingSecret or retrain.token.inline (and the same token in adminTokens)" }}
{{- end }}
{{- if and .Values.admin.port (not .Values.admin.service.enabled) }}
{{- fail "croupier: retrain.enabled needs admin.service.enabled: the CronJob reaches the admin API through the admin Service" }}
{{- end }}
{{- end }}
