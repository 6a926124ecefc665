{{/* The chart name, or nameOverride. Also the job label of the scrape (see servicemonitor.yaml). */}}
{{- define "cleanrooms-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The name of every object: the release name, with the chart name unless it holds it already. */}}
{{- define "cleanrooms-exporter.fullname" -}}
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

{{- define "cleanrooms-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cleanrooms-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cleanrooms-exporter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "cleanrooms-exporter.selectorLabels" . }}
app.kubernetes.io/component: exporter
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cleanrooms-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cleanrooms-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The config file's text, from a string (kept as written) or a map. */}}
{{- define "cleanrooms-exporter.config" -}}
{{- if kindIs "string" .Values.config }}
{{- .Values.config | trimSuffix "\n" }}
{{- else }}
{{- toYaml .Values.config }}
{{- end }}
{{- end }}

{{- define "cleanrooms-exporter.webConfigSecret" -}}
{{- default (printf "%s-web-config" (include "cleanrooms-exporter.fullname" .)) .Values.webConfig.existingSecret }}
{{- end }}

{{- define "cleanrooms-exporter.scheme" -}}
{{- if and .Values.webConfig.enabled .Values.webConfig.tls }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}
