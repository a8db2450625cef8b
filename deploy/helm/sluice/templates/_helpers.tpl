{{/* Names: <release> unless the release name already contains the chart name. */}}
{{- define "sluice.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sluice.labels" -}}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sluice.secretName" -}}
{{- if .Values.secret.create -}}
{{- printf "%s-keys" (include "sluice.fullname" .) -}}
{{- else -}}
{{- required "secret.existingSecret is required when secret.create is false" .Values.secret.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "sluice.image" -}}
{{- printf "%s:%s" .Values.sluice.image.repository (default .Chart.AppVersion .Values.sluice.image.tag) -}}
{{- end -}}

{{/*
A sluice.yaml duration ("250ms", "30s", "10m", "1h") in whole seconds, rounded up; fails on
anything else so that a typo cannot slip past the grace-period check.
*/}}
{{- define "sluice.durationSeconds" -}}
{{- $d := toString . -}}
{{- if regexMatch "^[0-9]+ms$" $d -}}
{{- div (add (trimSuffix "ms" $d | atoi) 999) 1000 -}}
{{- else if regexMatch "^[0-9]+s$" $d -}}
{{- trimSuffix "s" $d | atoi -}}
{{- else if regexMatch "^[0-9]+m$" $d -}}
{{- mul (trimSuffix "m" $d | atoi) 60 -}}
{{- else if regexMatch "^[0-9]+h$" $d -}}
{{- mul (trimSuffix "h" $d | atoi) 3600 -}}
{{- else -}}
{{- fail (printf "config.listener.drain_timeout: cannot read duration %q (use ms, s, m or h)" $d) -}}
{{- end -}}
{{- end -}}
