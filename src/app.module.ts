import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, registerAs, type ConfigType } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AlertingModule } from './alerting/alerting.module.js';
import type { Clock } from './alerting/clock.js';
import { loadAlertingConfig } from './config/alerting.config.js';
import { dataSourceOptions } from './database/data-source.options.js';
import { openMigratedDataSource } from './database/migrate.js';
import { OpsModule } from './ops/ops.module.js';

type Env = Record<string, string | undefined>;

export function alertingConfigFrom(env: Env) {
  return registerAs('alerting', () => loadAlertingConfig(env));
}

/** The standalone service: config from the environment, its own database, the alerting module. */
@Module({})
export class AppModule {
  /** `clock`: a time source other than the system's (the scenario runner moves one) */
  static forRoot(
    env: Env = process.env,
    extras: { clock?: Clock } = {},
  ): DynamicModule {
    const alertingConfig = alertingConfigFrom(env);
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          isGlobal: true,
          load: [alertingConfig],
        }),
        TypeOrmModule.forRootAsync({
          inject: [alertingConfig.KEY],
          useFactory: (config: ConfigType<typeof alertingConfig>) =>
            dataSourceOptions(config.databaseUrl, config.database),
          dataSourceFactory: (options) => openMigratedDataSource(options!),
        }),
        AlertingModule.forRootAsync({
          inject: [alertingConfig.KEY],
          useFactory: (config: ConfigType<typeof alertingConfig>) => ({
            config,
            clock: extras.clock,
          }),
        }),
        OpsModule.forRoot(alertingConfig.KEY),
      ],
    };
  }
}
