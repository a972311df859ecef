import {
  Module,
  type DynamicModule,
  type ModuleMetadata,
} from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  ALERTING_DATA_SOURCE,
  dataSourceOptions,
  type DatabaseTimeouts,
} from './data-source.options.js';
import { DatabaseService } from './database.service.js';
import { distributedLockProvider } from './distributed-lock.js';
import { openMigratedDataSource } from './migrate.js';

export interface DatabaseOptions {
  /** `sqlite:<file>`, `sqlite::memory:` or `postgres://…`; default `sqlite:./data/alerting.sqlite` */
  url?: string;
  /** put in front of every table name (`alerting_` → `alerting_incidents`); default none */
  tablePrefix?: string;
  /**
   * PostgreSQL: give up connecting, or waiting for a statement, after this long (the
   * request answers 503). Default 5 s each.
   */
  timeouts?: DatabaseTimeouts;
}

/**
 * The module's own DataSource (named {@link ALERTING_DATA_SOURCE}), migrated under a lock
 * before anything reads it, and the unit of work and lock on it. Entities come from the
 * modules that use them (`TypeOrmModule.forFeature([...], ALERTING_DATA_SOURCE)`).
 */
@Module({})
export class DatabaseModule {
  static forRootAsync(options: {
    imports?: ModuleMetadata['imports'];
    inject?: any[];
    useFactory: (...args: any[]) => DatabaseOptions | Promise<DatabaseOptions>;
  }): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          name: ALERTING_DATA_SOURCE,
          imports: options.imports,
          inject: options.inject,
          useFactory: async (...args: unknown[]) => {
            const o = await options.useFactory(...args);
            return {
              ...dataSourceOptions(o.url ?? 'sqlite:./data/alerting.sqlite', {
                tablePrefix: o.tablePrefix,
                timeouts: o.timeouts ?? {
                  connectTimeoutMs: 5_000,
                  queryTimeoutMs: 5_000,
                },
              }),
              autoLoadEntities: true,
            };
          },
          // PostgreSQL migrations run on a connection without the statement deadline
          dataSourceFactory: (dsOptions) => openMigratedDataSource(dsOptions!),
        }),
      ],
      providers: [DatabaseService, distributedLockProvider],
      exports: [DatabaseService, distributedLockProvider],
    };
  }
}
