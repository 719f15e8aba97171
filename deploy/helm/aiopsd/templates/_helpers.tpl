{{/* Names and labels shared by every object of the chart. */}}
{{- define "aiopsd.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aiopsd.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "aiopsd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aiopsd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aiopsd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "aiopsd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: remediator
{{- end -}}

{{- define "aiopsd.serviceAccountName" -}}
{{- default (include "aiopsd.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "aiopsd.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The settings YAML: the user's settings with what the chart owns (listen address, state dir, secret files). */}}
{{- define "aiopsd.settings" -}}
{{- $settings := deepCopy .Values.settings -}}
{{- $daemon := dict "listen" (printf "0.0.0.0:%d" (int .Values.service.port)) "state_dir" "/var/lib/aiopsd" -}}
{{- if .Values.credentials.apiToken.secretName -}}
{{- $_ := set $daemon "api_token_file" (printf "/run/secrets/aiopsd/api-token/%s" .Values.credentials.apiToken.key) -}}
{{- end -}}
{{- $_ := set $settings "daemon" (mergeOverwrite (default dict $settings.daemon) $daemon) -}}
{{- if .Values.credentials.storeUrl.secretName -}}
{{- $store := dict "url_file" (printf "/run/secrets/aiopsd/store/%s" .Values.credentials.storeUrl.key) -}}
{{- $_ := set $settings "store" (mergeOverwrite (default dict $settings.store) $store) -}}
{{- end -}}
{{- $remediation := default dict $settings.remediation -}}
{{- $election := dict "enabled" (gt (int .Values.replicaCount) 1) "namespace" .Release.Namespace "lease_name" .Values.leaderElection.leaseName "lease_duration" .Values.leaderElection.leaseDuration "renew_deadline" .Values.leaderElection.renewDeadline "retry_period" .Values.leaderElection.retryPeriod -}}
{{- $_ := set $remediation "leader_election" (mergeOverwrite (default dict $remediation.leader_election) $election) -}}
{{- if .Values.policy -}}
{{- $_ := set $remediation "policy_file" "/etc/aiopsd/policy.yaml" -}}
{{- end -}}
{{- $_ := set $settings "remediation" $remediation -}}
{{- toYaml $settings -}}
{{- end -}}


{{/* The guard policy with the kill switch the chart creates and its Role may read. */}}
{{- define "aiopsd.policy" -}}
{{- $policy := deepCopy .Values.policy -}}
{{- $switch := dict "namespace" .Release.Namespace "name" .Values.rbac.killSwitchConfigMap -}}
{{- $_ := set $policy "kill_switch" (mergeOverwrite (default dict $policy.kill_switch) $switch) -}}
{{- toYaml $policy -}}
{{- end -}}
