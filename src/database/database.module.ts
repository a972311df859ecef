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

/** What the options factory could not build (a bad SQLite path), thrown by the DataSource factory. */
const OPTIONS_ERROR = Symbol('alerting database options error');

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
            try {
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
            } catch (error) {
              // Were this factory to reject, Nest's start would fail, but the DataSource
              // factory would still run without options ("Wrong driver: undefined"), retried
              // for 27 s behind the failure. The error is thrown there instead, once.
              return { [OPTIONS_ERROR]: error, retryAttempts: 0 } as object;
            }
          },
          dataSourceFactory: (dsOptions) => {
            const failed: unknown = (
              dsOptions as unknown as Record<symbol, unknown>
            )[OPTIONS_ERROR];
            if (failed) throw failed;
            // PostgreSQL migrations run on a connection without the statement deadline
            return openMigratedDataSource(dsOptions!);
          },
        }),
      ],
      providers: [DatabaseService, distributedLockProvider],
      exports: [DatabaseService, distributedLockProvider],
    };
  }
}
