import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * The database an e2e app runs on: in-memory SQLite, or, in the PostgreSQL lane
 * (`TEST_POSTGRES_URL` set), a fresh database created for this app and dropped after.
 */
export interface TestDatabase {
  url: string;
  dialect: 'sqlite' | 'postgres';
  drop(): Promise<void>;
}

export const postgresLaneUrl = process.env.TEST_POSTGRES_URL;

export async function createTestDatabase(
  sqliteUrl = 'sqlite::memory:',
): Promise<TestDatabase> {
  if (!postgresLaneUrl)
    return { url: sqliteUrl, dialect: 'sqlite', drop: async () => {} };
  const name = `alerting_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(postgresLaneUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dialect: 'postgres',
    drop: () =>
      admin((c) =>
        c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      ).then(() => undefined),
  };
}

async function admin<T>(work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: postgresLaneUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
