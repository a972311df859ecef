import { Module } from '@nestjs/common';
import { LogNotifier } from './log.notifier.js';

/** The `log` adapter: each transition becomes one log line (development default). */
@Module({ providers: [LogNotifier] })
export class LogNotifierModule {}
