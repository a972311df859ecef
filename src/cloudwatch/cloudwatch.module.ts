import { Module, type DynamicModule } from '@nestjs/common';
import { protectControllers } from '../ops/api-key.guard.js';
import { CloudWatchAlarmsController } from './cloudwatch-alarms.controller.js';
import { CloudWatchEventsController } from './cloudwatch-events.controller.js';
import {
  CLOUDWATCH_OPTIONS,
  type CloudWatchModuleOptions,
} from './cloudwatch.options.js';
import { cloudWatchClientProvider } from './cloudwatch.providers.js';

protectControllers([CloudWatchEventsController, CloudWatchAlarmsController]);

/**
 * CloudWatch in: EventBridge alarm state changes at `POST /v1/cloudwatch/events`, and,
 * with `alarmApply`, the alarms as code. Region and endpoint are the core's
 * (`config.awsRegion`, `config.awsEndpointUrl`). For the reconciler's CloudWatch check see
 * `CloudWatchAlarmSource`.
 */
@Module({})
export class CloudWatchModule {
  static forRoot(options: CloudWatchModuleOptions = {}): DynamicModule {
    return {
      module: CloudWatchModule,
      controllers: [
        CloudWatchEventsController,
        ...(options.alarmApply ? [CloudWatchAlarmsController] : []),
      ],
      providers: [
        { provide: CLOUDWATCH_OPTIONS, useValue: options },
        cloudWatchClientProvider,
      ],
    };
  }
}
