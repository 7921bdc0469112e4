{{/*
Names. Every object is named "<release>-…" unless the release is already called rds-csi, so two releases
(two RDS appliances, two driver names) can live side by side.
*/}}
{{- define "rds-csi.fullname" -}}
{{- if contains "rds-csi" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-rds-csi" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "rds-csi.labels" -}}
app.kubernetes.io/name: rds-csi
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Values.managedBy | default .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component (controller, node). Call with (list $ "controller"). */}}
{{- define "rds-csi.selectorLabels" -}}
{{- $top := index . 0 -}}
app.kubernetes.io/name: rds-csi
app.kubernetes.io/instance: {{ $top.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "rds-csi.componentLabels" -}}
{{- $top := index . 0 -}}
{{ include "rds-csi.labels" $top }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* image reference: repository[:tag][@digest]. Call with (list $ .Values.image.node). */}}
{{- define "rds-csi.image" -}}
{{- $top := index . 0 -}}
{{- $img := index . 1 -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default $top.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* Directory on the host holding the driver's socket, and the socket kubelet dials. */}}
{{- define "rds-csi.pluginDir" -}}
{{- printf "%s/plugins/%s" (trimSuffix "/" .Values.kubeletDir) .Values.driverName -}}
{{- end -}}

{{- define "rds-csi.configName" -}}
{{- printf "%s-config" (include "rds-csi.fullname" .) -}}
{{- end -}}

{{- define "rds-csi.controllerServiceAccount" -}}
{{- printf "%s-controller" (include "rds-csi.fullname" .) -}}
{{- end -}}

{{- define "rds-csi.nodeServiceAccount" -}}
{{- printf "%s-node" (include "rds-csi.fullname" .) -}}
{{- end -}}

{{/* The container-level security context of a non-privileged sidecar. */}}
{{- define "rds-csi.restrictedContainer" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}
