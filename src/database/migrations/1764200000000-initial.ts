import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ddl } from '../table-prefix.js';

const TEXT_TS = 'varchar(32)';

function schema(dialect: 'sqlite' | 'postgres'): string[] {
  const double = dialect === 'postgres' ? 'double precision' : 'real';
  const serial =
    dialect === 'postgres'
      ? 'bigserial PRIMARY KEY'
      : 'integer PRIMARY KEY AUTOINCREMENT';
  return [
    `CREATE TABLE incidents (
      id varchar(36) PRIMARY KEY,
      dedup_key varchar(512) NOT NULL,
      open_key varchar(512) NULL,
      status varchar(16) NOT NULL,
      severity varchar(16) NOT NULL,
      alarm_name varchar(255) NOT NULL,
      metric_name varchar(255) NULL,
      threshold ${double} NULL,
      current_value ${double} NULL,
      environment varchar(64) NOT NULL,
      description text NULL,
      recommendations text NOT NULL,
      source varchar(255) NULL,
      component varchar(255) NULL,
      group_name varchar(255) NULL,
      class_name varchar(255) NULL,
      links text NOT NULL,
      custom_details text NOT NULL,
      alert_timestamp ${TEXT_TS} NOT NULL,
      occurrences integer NOT NULL,
      routing_key varchar(64) NULL,
      resolve_timeout_ms integer NULL,
      ingest_source varchar(32) NOT NULL,
      alarm_arn varchar(2048) NULL,
      last_transition_at ${TEXT_TS} NULL,
      created_at ${TEXT_TS} NOT NULL,
      last_seen_at ${TEXT_TS} NOT NULL,
      acknowledged_at ${TEXT_TS} NULL,
      resolved_at ${TEXT_TS} NULL,
      resolve_reason varchar(32) NULL
    )`,
    // "One open incident per key" for every writer, whatever the instance count.
    `CREATE UNIQUE INDEX ux_incidents_open_key ON incidents (open_key)`,
    `CREATE INDEX ix_incidents_dedup_key ON incidents (dedup_key, created_at)`,
    `CREATE INDEX ix_incidents_status_last_seen ON incidents (status, last_seen_at)`,
    `CREATE TABLE incident_events (
      id varchar(36) PRIMARY KEY,
      incident_id varchar(36) NOT NULL,
      at ${TEXT_TS} NOT NULL,
      type varchar(32) NOT NULL,
      detail text NULL
    )`,
    `CREATE INDEX ix_incident_events_incident ON incident_events (incident_id, at)`,
    `CREATE TABLE deliveries (
      id ${serial},
      notifier varchar(32) NOT NULL,
      dedup_key varchar(512) NOT NULL,
      incident_id varchar(36) NOT NULL,
      action varchar(16) NOT NULL,
      payload text NOT NULL,
      state varchar(16) NOT NULL,
      attempts integer NOT NULL,
      next_attempt_at ${TEXT_TS} NOT NULL,
      lease_owner varchar(64) NULL,
      lease_until ${TEXT_TS} NULL,
      last_error text NULL,
      last_response text NULL,
      created_at ${TEXT_TS} NOT NULL,
      delivered_at ${TEXT_TS} NULL
    )`,
    `CREATE INDEX ix_deliveries_head ON deliveries (state, notifier, dedup_key, id)`,
    `CREATE INDEX ix_deliveries_due ON deliveries (state, next_attempt_at)`,
    `CREATE INDEX ix_deliveries_incident ON deliveries (incident_id)`,
    `CREATE TABLE settings (
      key varchar(64) PRIMARY KEY,
      value text NOT NULL,
      updated_at ${TEXT_TS} NOT NULL
    )`,
  ];
}

export class Initial1764200000000 implements MigrationInterface {
  name = 'Initial1764200000000';

  async up(runner: QueryRunner): Promise<void> {
    const dialect =
      runner.connection.options.type === 'postgres' ? 'postgres' : 'sqlite';
    for (const sql of schema(dialect)) await ddl(runner, sql);
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of [
      'settings',
      'deliveries',
      'incident_events',
      'incidents',
    ]) {
      await ddl(runner, `DROP TABLE ${table}`);
    }
  }
}
