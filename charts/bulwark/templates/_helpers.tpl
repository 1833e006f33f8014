{{/* Names */}}
{{- define "bulwark.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bulwark.fullname" -}}
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

{{- define "bulwark.controllerName" -}}
{{- printf "%s-controller" (include "bulwark.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bulwark.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create -}}
{{- default (include "bulwark.controllerName" .) .Values.controller.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.controller.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "bulwark.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "secret" -}}
{{- required "certificates.secret.name is required with certificates.mode=secret" .Values.certificates.secret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "bulwark.controllerName" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels */}}
{{- define "bulwark.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "bulwark.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bulwark
{{- end -}}

{{- define "bulwark.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bulwark.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* Images: images.<role> when set, else image.repository[:tag|@digest]. */}}
{{- define "bulwark.defaultImage" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "bulwark.image" -}}
{{- $role := index . 1 -}}
{{- with index . 0 -}}
{{- default (include "bulwark.defaultImage" .) (index .Values.images $role) -}}
{{- end -}}
{{- end -}}

{{/* The webhook's configuration file (docs/webhook.md), as JSON. */}}
{{- define "bulwark.webhookConfig" -}}
{{- $c := .Values.config -}}
{{- $res := dict -}}
{{- range $k, $v := $c.sidecar.resources -}}
{{- $_ := set $res $k $v -}}
{{- end -}}
{{- $inj := dict
  "images" (dict "proxy" (include "bulwark.image" (list . "proxy"))
                 "init" (include "bulwark.image" (list . "init"))
                 "helper" (default "" .Values.images.helper))
  "image_pull_policy" .Values.image.pullPolicy
  "mode" (default $c.mode (($c.wallarm | default dict).mode))
  "mode_allow_override" (default $c.modeAllowOverride (($c.wallarm | default dict).modeAllowOverride))
  "capture_mode" $c.captureMode
  "iptables_enable" $c.injectionStrategy.iptablesEnable
  "schema" $c.injectionStrategy.schema
  "native_sidecar" $c.nativeSidecar
  "ebpf_in_auto" $c.ebpfInAuto
  "strict" $c.strict
  "policy_configmap" $c.policy.configMapName
  "policy_key" $c.policy.key
  "resources" $res
  "secret_env" $c.secretEnv
  "kubernetes_version" .Capabilities.KubeVersion.Version
  "prestop_seconds" (int $c.sidecar.preStopSeconds)
  "drain_seconds" (int $c.sidecar.drainSeconds) -}}
{{- if ne (default "auto" $c.holderSidecar) "auto" -}}
{{- $_ := set $inj "holder_sidecar" $c.holderSidecar -}}
{{- end -}}
{{- if $c.podScrapeAnnotations -}}
{{- $_ := set $inj "pod_scrape_annotations" true -}}
{{- end -}}
{{- with $c.nginx -}}
{{- fail (printf "config.nginx.%s is a Wallarm chart key; Bulwark sets the ports per pod: annotation sidecar.bulwark.dev/application-port (applicationPort) or sidecar.bulwark.dev/proxy-port (listenPort); helm show readme, \"Coming from the Wallarm sidecar chart\"" (keys . | sortAlpha | first)) -}}
{{- end -}}
{{- if and $c.nativeSidecar (semverCompare "<1.29-0" .Capabilities.KubeVersion.Version) -}}
{{- fail (printf "config.nativeSidecar needs Kubernetes 1.29 or later (native sidecar containers); this cluster is %s" .Capabilities.KubeVersion.Version) -}}
{{- end -}}
{{- if and $c.ebpfInAuto (or (eq (default "auto" $c.holderSidecar) "plain") (and (ne (default "auto" $c.holderSidecar) "native") (semverCompare "<1.29-0" .Capabilities.KubeVersion.Version))) -}}
{{- fail (printf "config.ebpfInAuto needs the bulwark-hold holder as a native sidecar (Kubernetes 1.29 or later, config.holderSidecar not plain); this cluster is %s: use config.captureMode ebpf (plain holder sidecar) or leave ebpfInAuto off" .Capabilities.KubeVersion.Version) -}}
{{- end -}}
{{- $cfg := dict
  "listen" (printf "0.0.0.0:%d" (int .Values.controller.port))
  "tls_cert" "/etc/bulwark/tls/tls.crt"
  "tls_key" "/etc/bulwark/tls/tls.key"
  "threads" (int .Values.controller.threads)
  "max_body_bytes" (int64 .Values.controller.maxBodyBytes)
  "cert_check_interval_ms" (int .Values.controller.certCheckIntervalMs)
  "request_timeout_ms" (int .Values.controller.requestTimeoutMs)
  "tls_handshake_timeout_ms" (int .Values.controller.tlsHandshakeTimeoutMs)
  "max_connections" (int .Values.controller.maxConnections)
  "log_level" .Values.controller.logLevel
  "injection" $inj -}}
{{- toPrettyJson $cfg -}}
{{- end -}}
