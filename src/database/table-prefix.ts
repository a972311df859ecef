import type { DataSource, QueryRunner } from 'typeorm';

// The module's tables and index names (PostgreSQL index names are per schema, so a
// second prefixed copy of the module in one database needs its own).
const NAMES =
  /\b(incidents|incident_events|deliveries|key_transitions|sns_messages|settings|silences|pagerduty_webhook_events|(?:ix|ux)_[a-z0-9_]+)\b/g;

/**
 * Raw SQL is written with the bare table names; the prefix (`entityPrefix` of the module's
 * DataSource) is put in front of each, so every statement honours it as TypeORM's own do.
 */
export function withTablePrefix(sql: string, prefix: string): string {
  return prefix ? sql.replace(NAMES, `${prefix}$1`) : sql;
}

export function tablePrefixOf(dataSource: DataSource): string {
  return dataSource.options.entityPrefix ?? '';
}

/** A migration's statement, prefixed like the DataSource running it. */
export function ddl(runner: QueryRunner, sql: string): Promise<unknown> {
  return runner.query(withTablePrefix(sql, tablePrefixOf(runner.connection)));
}
