import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../database/data-source.options.js';
import { alertingMigrations } from '../database/migrations/index.js';
import { PagerDutyWebhooks1764950000000 } from '../database/migrations/1764950000000-pagerduty-webhooks.js';
import { pagerDutyDedupKey } from './pagerduty-event.builder.js';

const before = alertingMigrations.filter(
  (m) => m !== PagerDutyWebhooks1764950000000,
);

async function migrated(
  file: string,
  migrations: typeof alertingMigrations,
): Promise<DataSource> {
  const ds = new DataSource({
    ...dataSourceOptions(`sqlite:${file}`),
    migrations,
  });
  await ds.initialize();
  await ds.runMigrations();
  return ds;
}

describe(PagerDutyWebhooks1764950000000.name, () => {
  it('gives incidents already open with a long key the SHA-256 form PagerDuty knows them by', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pd-migration-'));
    const file = join(dir, 'alerting.sqlite');
    let ds = await migrated(file, before);
    try {
      const long = `${'a'.repeat(200)}-${'b'.repeat(100)}`;
      const insert = (id: string, key: string) =>
        ds.query(
          `INSERT INTO incidents (id, dedup_key, open_key, status, severity, alarm_name,
             environment, recommendations, links, custom_details, alert_timestamp,
             occurrences, ingest_source, created_at, last_seen_at)
           VALUES (?, ?, ?, 'triggered', 'CRITICAL', 'x', 'production', '[]', '[]', '{}',
             '2026-01-01T00:00:00.000Z', 1, 'api', '2026-01-01T00:00:00.000Z',
             '2026-01-01T00:00:00.000Z')`,
          [id, key, key],
        );
      await insert('long', long);
      await insert('short', 'short-key');
      await ds.destroy();
      ds = await migrated(file, alertingMigrations);
      const rows: { id: string; pagerduty_dedup_key: string | null }[] =
        await ds.query(
          'SELECT id, pagerduty_dedup_key FROM incidents ORDER BY id',
        );
      expect(rows).toEqual([
        { id: 'long', pagerduty_dedup_key: pagerDutyDedupKey(long) },
        { id: 'short', pagerduty_dedup_key: null },
      ]);
    } finally {
      await ds.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names its table and index after the data source's table prefix", async () => {
    // this migration alone, on a host's prefixed incidents table
    const ds2 = new DataSource({
      ...dataSourceOptions('sqlite::memory:'),
      migrations: [PagerDutyWebhooks1764950000000],
      entityPrefix: 'host_',
    });
    await ds2.initialize();
    try {
      await ds2.query(
        'CREATE TABLE host_incidents (id varchar(36) PRIMARY KEY, dedup_key varchar(512) NOT NULL, created_at varchar(32) NOT NULL)',
      );
      await ds2.runMigrations();
      const names: { name: string }[] = await ds2.query(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name LIKE '%pagerduty%' ORDER BY name",
      );
      expect(names.map((n) => n.name)).toEqual([
        'host_ix_incidents_pagerduty_dedup_key',
        'host_ix_pagerduty_webhook_events_received',
        'host_pagerduty_webhook_events',
        'sqlite_autoindex_host_pagerduty_webhook_events_1',
      ]);
    } finally {
      await ds2.destroy();
    }
  });
});
