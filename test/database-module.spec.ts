import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { BAD_SQLITE_PATHS } from './support/bad-sqlite-paths.js';
import { AppModule } from '../src/app.module.js';

// How a host meets a bad SQLite path: the service's modules fail at once, naming it, rather
// than retrying for 27 s and then reporting "Wrong driver: undefined".
describe('the service modules with a SQLite path they cannot use', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'alerting-db-module-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each(BAD_SQLITE_PATHS)(
    'fail to start when %s, at once and naming it',
    async (_, url, reason) => {
      const databaseUrl = url(dir);
      const started = performance.now();

      // the whole service, started as a host's main.ts would: the database module alone, or
      // under Nest's testing module, surfaced the error even before
      const logged: string[] = [];
      const keep = (...parts: unknown[]) =>
        logged.push(parts.map(String).join(' '));
      const starting = NestFactory.createApplicationContext(
        AppModule.forRoot({ DATABASE_URL: databaseUrl, NOTIFIERS: 'log' }),
        {
          abortOnError: false,
          logger: { log() {}, warn: keep, error: keep },
        },
      );

      const error = await starting.then(
        async (app) => {
          await app.close();
          return new Error('expected the service to fail');
        },
        (e: unknown) => e as Error,
      );
      expect(error.message).toContain(`DATABASE_URL ${databaseUrl}: `);
      expect(error.message).toMatch(reason);
      expect(performance.now() - started).toBeLessThan(5_000);
      // and nothing goes on connecting behind the failure with the options lost on the way
      await new Promise((r) => setTimeout(r, 200));
      expect(logged.filter((m) => m.includes('Wrong driver'))).toEqual([]);
      expect(logged.join('\n')).toMatch(reason);
    },
  );
});
