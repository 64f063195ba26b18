{{- define "swift-ocean.name" -}}
{{- printf "%s-%s" .Release.Name .Values.integration.identifier | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "swift-ocean.env" -}}
- name: OCEAN__INTEGRATION__IDENTIFIER
  value: {{ .Values.integration.identifier | quote }}
- name: OCEAN__INTEGRATION__TYPE
  value: {{ .Values.integration.type | quote }}
- name: OCEAN__EVENT_LISTENER__TYPE
  value: {{ if eq .Values.workload.kind "CronJob" }}"ONCE"{{ else }}{{ .Values.integration.eventListener.type | quote }}{{ end }}
- name: OCEAN__SCHEDULED_RESYNC_INTERVAL
  value: {{ .Values.scheduledResyncInterval | quote }}
- name: OCEAN__PORT__BASE_URL
  value: {{ .Values.port.baseUrl | quote }}
- name: OCEAN__INITIALIZE_PORT_RESOURCES
  value: {{ .Values.initializePortResources | quote }}
- name: OCEAN__SEND_RAW_DATA_EXAMPLES
  value: {{ .Values.sendRawDataExamples | quote }}
{{- with .Values.liveEvents.baseUrl }}
- name: OCEAN__BASE_URL
  value: {{ . | quote }}
{{- end }}
- name: OCEAN__CATALOG__PATH
  value: /data/catalog.sqlite
- name: APPLICATION__PORT
  value: {{ .Values.service.port | quote }}
{{- range $name, $value := .Values.integration.config }}
- name: {{ printf "OCEAN__INTEGRATION__CONFIG__%s" ($name | snakecase | upper) }}
  value: {{ $value | quote }}
{{- end }}
envFrom:
  - secretRef:
      name: {{ include "swift-ocean.name" . }}
{{- end -}}
