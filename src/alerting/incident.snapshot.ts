import type { Incident } from './incident.entity.js';
import type { IncidentSnapshot } from '../notifier/notifier.port.js';

export function toSnapshot(incident: Incident): IncidentSnapshot {
  return {
    id: incident.id,
    dedupKey: incident.dedupKey,
    status: incident.status,
    severity: incident.severity,
    alarmName: incident.alarmName,
    metricName: incident.metricName,
    threshold: incident.threshold,
    currentValue: incident.currentValue,
    environment: incident.environment,
    description: incident.description,
    recommendations: incident.recommendations,
    source: incident.source,
    component: incident.component,
    group: incident.group,
    class: incident.class,
    links: incident.links,
    customDetails: incident.customDetails,
    timestamp: incident.alertTimestamp,
    occurrences: incident.occurrences,
    resolveReason: incident.resolveReason,
  };
}
