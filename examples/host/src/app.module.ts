import { Module } from '@nestjs/common';
import { APP_GUARD, RouterModule } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AlertingModule, ConsoleModule } from 'orchestrator-alerting';
import { BearerTokenGuard } from './bearer-token.guard.js';
import { HostNotification, HostSetting, HostTick } from './entities.js';
import { HostController } from './host.controller.js';
import { HostTableNotifier } from './host-table.notifier.js';
import { TickerJob } from './ticker.job.js';

const DATABASE_URL =
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/host';

@Module({
  imports: [
    // The host's scheduler, imported once: the alerting module never imports its own.
    ScheduleModule.forRoot(),
    // The host's own connection and tables.
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: DATABASE_URL,
      entities: [HostNotification, HostTick, HostSetting],
      synchronize: true,
    }),
    TypeOrmModule.forFeature([HostNotification, HostTick, HostSetting]),
    // The alerting module on a connection of its own (same database here), its tables
    // prefixed, its migrations run under a lock at start; no guard of its own.
    AlertingModule.forRoot({
      config: {
        appEnv: 'production',
        notifiers: ['host-table'],
        delivery: { pollInterval: '500ms', retryBase: '200ms' },
      },
      database: { url: DATABASE_URL, tablePrefix: 'alerting_' },
      auth: false,
    }),
    // The operator console at /alerting/console; the operator enters the host's token,
    // which the page sends as `Authorization: Bearer`, the header this host's guard reads.
    ConsoleModule.forRoot({ keyHeader: 'authorization' }),
    RouterModule.register([
      { path: 'alerting', module: AlertingModule, children: [ConsoleModule] },
    ]),
  ],
  controllers: [HostController],
  providers: [
    { provide: APP_GUARD, useClass: BearerTokenGuard },
    HostTableNotifier,
    TickerJob,
  ],
})
export class AppModule {}
