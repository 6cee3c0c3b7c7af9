{{/* The chart's name, or nameOverride. */}}
{{- define "temporal-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name, at most 63 characters (a DNS label). */}}
{{- define "temporal-gateway.fullname" -}}
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

{{/* Labels every object of the release carries. */}}
{{- define "temporal-gateway.labels" -}}
app.kubernetes.io/name: {{ include "temporal-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "api"). Never change them: a
Deployment's selector is immutable. */}}
{{- define "temporal-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "temporal-gateway.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All labels of one component's objects: (dict "ctx" $ "component" "api"). */}}
{{- define "temporal-gateway.componentLabels" -}}
{{ include "temporal-gateway.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* name:tag[@digest] of one component's image: (dict "ctx" $ "image" .Values.api.image). */}}
{{- define "temporal-gateway.image" -}}
{{- $ref := printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- if .image.digest -}}{{- $ref = printf "%s@%s" $ref .image.digest -}}{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* A component's ServiceAccount: (dict "ctx" $ "component" "api"). */}}
{{- define "temporal-gateway.serviceAccountName" -}}
{{- $sa := (index .ctx.Values .component).serviceAccount -}}
{{- if $sa.create -}}
{{- default (printf "%s-%s" (include "temporal-gateway.fullname" .ctx) .component) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* The Lease the operator replicas elect their leader on, in the release namespace. */}}
{{- define "temporal-gateway.leaseName" -}}
{{- printf "%s-operator" (include "temporal-gateway.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* True (non-empty) when the API pods watch the WorkflowRoutes (api.routes.source
kubernetes); refuses what cannot work: the watch without the operator, files without a
ConfigMap. */}}
{{- define "temporal-gateway.routesWatched" -}}
{{- $routes := .Values.api.routes -}}
{{- if eq $routes.source "kubernetes" -}}
{{- if not .Values.operator.enabled -}}
{{- fail "api.routes.source kubernetes serves the routes the operator accepted: enable the operator, or set api.routes.source files (and api.routes.configMap)" -}}
{{- end -}}
true
{{- else if not $routes.configMap -}}
{{- fail "api.routes.source files reads its routes from a ConfigMap: set api.routes.configMap" -}}
{{- end -}}
{{- end -}}

{{/* The namespaces whose WorkflowRoutes the API serves (empty: all), as a list. */}}
{{- define "temporal-gateway.apiRouteNamespaces" -}}
{{- toJson (default .Values.operator.watchNamespaces .Values.api.routes.namespaces) -}}
{{- end -}}

{{/* True (non-empty) when the release's dev Temporal is on. */}}
{{- define "temporal-gateway.devTemporal" -}}
{{- if (index .Values "temporal-dev").enabled -}}true{{- end -}}
{{- end -}}

{{/* The dev server's Service, as the temporal-dev subchart names it. */}}
{{- define "temporal-gateway.devTemporalName" -}}
{{- $dev := index .Values "temporal-dev" -}}
{{- default (printf "%s-temporal-dev" .Release.Name) $dev.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Temporal's frontend, host:port. */}}
{{- define "temporal-gateway.temporalAddress" -}}
{{- if include "temporal-gateway.devTemporal" . -}}
{{- $dev := index .Values "temporal-dev" -}}
{{- /* Fully qualified: KEDA's scaler dials it from KEDA's namespace. */ -}}
{{- printf "%s.%s.svc:%v" (include "temporal-gateway.devTemporalName" .) .Release.Namespace (dig "ports" "grpc" 7233 $dev) -}}
{{- else -}}
{{- required "temporal.address is required when temporal-dev is disabled (an existing Temporal cluster or Temporal Cloud; see docs/deploy.md)" .Values.temporal.address -}}
{{- end -}}
{{- end -}}

{{/* True (non-empty) when the services talk TLS to an external Temporal. */}}
{{- define "temporal-gateway.temporalTLS" -}}
{{- if not (include "temporal-gateway.devTemporal" .) -}}
{{- if or .Values.temporal.tls.enabled .Values.temporal.tls.secretName .Values.temporal.apiKey.secretName -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* Temporal's own environment variables (temporalio.envconfig), shared by every service. */}}
{{- define "temporal-gateway.temporalEnv" -}}
{{- $dev := include "temporal-gateway.devTemporal" . -}}
{{- if $dev -}}
{{- $namespaces := append (dig "namespaces" (list) (index .Values "temporal-dev")) "default" -}}
{{- if not (has .Values.temporal.namespace $namespaces) -}}
{{- fail (printf "temporal.namespace %q does not exist on the dev server: add it to temporal-dev.namespaces" .Values.temporal.namespace) -}}
{{- end -}}
{{- end }}
- name: TEMPORAL_ADDRESS
  value: {{ include "temporal-gateway.temporalAddress" . | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
{{- if include "temporal-gateway.temporalTLS" . }}
- name: TEMPORAL_TLS
  value: "true"
{{- with .Values.temporal.tls.serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- if .Values.temporal.tls.secretName }}
- name: TEMPORAL_TLS_CLIENT_CERT_PATH
  value: /etc/temporal-gateway/temporal-tls/tls.crt
- name: TEMPORAL_TLS_CLIENT_KEY_PATH
  value: /etc/temporal-gateway/temporal-tls/tls.key
{{- with .Values.temporal.tls.caKey }}
- name: TEMPORAL_TLS_SERVER_CA_CERT_PATH
  value: /etc/temporal-gateway/temporal-tls/{{ . }}
{{- end }}
{{- end }}
{{- if .Values.temporal.apiKey.secretName }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.temporal.apiKey.secretName }}
      key: {{ .Values.temporal.apiKey.key }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The mTLS Secret's volume and mount, when there is one. */}}
{{- define "temporal-gateway.temporalTLSVolume" -}}
{{- if and (not (include "temporal-gateway.devTemporal" .)) .Values.temporal.tls.secretName }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporal.tls.secretName }}
    defaultMode: 0440
{{- end }}
{{- end -}}
{{- define "temporal-gateway.temporalTLSMount" -}}
{{- if and (not (include "temporal-gateway.devTemporal" .)) .Values.temporal.tls.secretName }}
- name: temporal-tls
  mountPath: /etc/temporal-gateway/temporal-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* Logging and tracing environment: (dict "ctx" $ "service" "temporal-gateway-api"). */}}
{{- define "temporal-gateway.commonEnv" -}}
- name: LOG_FORMAT
  value: json
- name: LOG_LEVEL
  value: {{ .ctx.Values.logLevel | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .service | quote }}
{{- with .ctx.Values.tracing.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .ctx.Values.tracing.sampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ . | quote }}
{{- end }}
{{- with .ctx.Values.tracing.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* A map of extra variables as env entries, sorted by name. */}}
{{- define "temporal-gateway.extraEnv" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The pod and container security contexts: the chart's, merged with the component's. */}}
{{- define "temporal-gateway.podSecurityContext" -}}
{{- toYaml (merge (deepCopy .component.podSecurityContext) .ctx.Values.podSecurityContext) -}}
{{- end -}}
{{- define "temporal-gateway.containerSecurityContext" -}}
{{- toYaml (merge (deepCopy .component.containerSecurityContext) .ctx.Values.containerSecurityContext) -}}
{{- end -}}

{{/* Scheduling fields shared by every pod template: nodeSelector, tolerations, affinity... */}}
{{- define "temporal-gateway.scheduling" -}}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The Secret holding the API's hashed key file: the user's, or the generated one (or none). */}}
{{- define "temporal-gateway.apiKeysSecret" -}}
{{- $auth := .Values.api.auth -}}
{{- if $auth.apiKeys.existingSecret -}}
{{- $auth.apiKeys.existingSecret -}}
{{- else if and $auth.apiKeys.generate (not $auth.oidc.issuer) -}}
{{- include "temporal-gateway.fullname" . }}-api-key
{{- end -}}
{{- end -}}

{{/* The API's authentication, rate-limit and CORS environment. */}}
{{- define "temporal-gateway.apiSecurityEnv" -}}
{{- $api := .Values.api -}}
{{- $keys := include "temporal-gateway.apiKeysSecret" . -}}
{{- if not (or $keys $api.auth.oidc.issuer) -}}
{{- fail "api.auth: set apiKeys.existingSecret or oidc.issuer, or leave apiKeys.generate on: the API refuses to run without authentication" -}}
{{- end -}}
# Fails closed: the API refuses to start here without the authentication below.
- name: API_ENVIRONMENT
  value: production
{{- if $keys }}
- name: API_KEYS_FILE
  value: {{ printf "/etc/temporal-gateway/keys/%s" (ternary $api.auth.apiKeys.key "keys.yaml" (ne $api.auth.apiKeys.existingSecret "")) | quote }}
{{- end }}
{{- with $api.auth.oidc }}
{{- if .issuer }}
{{- if not .audience }}
{{- fail "api.auth.oidc.audience is required with oidc.issuer: a token minted for another service must not work here" -}}
{{- end }}
- name: API_JWT_ISSUER
  value: {{ .issuer | quote }}
- name: API_JWT_AUDIENCE
  value: {{ .audience | quote }}
{{- with .jwksUrl }}
- name: API_JWT_JWKS_URL
  value: {{ . | quote }}
{{- end }}
- name: API_JWT_GROUPS_CLAIM
  value: {{ .groupsClaim | quote }}
{{- end }}
{{- end }}
- name: API_ADMIN_SCOPE
  value: {{ $api.auth.adminScope | quote }}
# Every replica signs and reads the same page tokens.
- name: API_PAGE_TOKEN_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ $api.pageTokenKeys.existingSecret | default (printf "%s-server-keys" (include "temporal-gateway.fullname" .)) | quote }}
      key: {{ $api.pageTokenKeys.key | quote }}
- name: API_RATE_LIMIT
  value: {{ $api.rateLimit.perCaller | quote }}
- name: API_RATE_LIMIT_GLOBAL
  value: {{ $api.rateLimit.global | quote }}
{{- with $api.rateLimit.redisSecret }}
- name: API_RATE_LIMIT_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: url
{{- end }}
{{- with $api.corsOrigins }}
- name: API_CORS_ORIGINS
  value: {{ join "," . | quote }}
{{- end }}
{{- end -}}
