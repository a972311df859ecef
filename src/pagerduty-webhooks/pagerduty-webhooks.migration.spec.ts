import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../database/data-source.options.js';
import { PagerDutyWebhooks1764950000000 } from '../database/migrations/1764950000000-pagerduty-webhooks.js';

describe(PagerDutyWebhooks1764950000000.name, () => {
  it("names its table and indexes after the data source's table prefix", async () => {
    // this migration alone, on a host's prefixed incidents table
    const ds = new DataSource({
      ...dataSourceOptions('sqlite::memory:'),
      migrations: [PagerDutyWebhooks1764950000000],
      entityPrefix: 'host_',
    });
    await ds.initialize();
    try {
      await ds.query(
        `CREATE TABLE host_incidents (id varchar(36) PRIMARY KEY, dedup_key varchar(512) NOT NULL,
           open_key varchar(512) NULL, created_at varchar(32) NOT NULL)`,
      );
      await ds.runMigrations();
      const names: { name: string }[] = await ds.query(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name LIKE 'host_%' ORDER BY name",
      );
      expect(names.map((n) => n.name)).toEqual([
        'host_incidents',
        'host_ix_incidents_open_long_key',
        'host_ix_pagerduty_webhook_events_received',
        'host_pagerduty_webhook_events',
      ]);
    } finally {
      await ds.destroy();
    }
  });
});
