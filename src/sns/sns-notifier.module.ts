import { Module, type DynamicModule } from '@nestjs/common';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import type { SnsNotifier } from './sns.notifier.js';

/** Options of {@link SnsNotifierModule.forRoot}. */
export interface SnsNotifierOptions {
  topicArn: string;
  /** default eu-central-1 */
  region?: string;
  /** a local fake instead of AWS */
  endpoint?: string;
}

export const SNS_NOTIFIER = Symbol('SNS_NOTIFIER');

/**
 * The `sns` adapter: each transition published to a topic. The SDK is loaded only when
 * this module is imported (~20 MB of RSS otherwise).
 */
@Module({})
export class SnsNotifierModule {
  static forRoot(options: SnsNotifierOptions): DynamicModule {
    return {
      module: SnsNotifierModule,
      providers: [
        {
          provide: SNS_NOTIFIER,
          inject: [ALERTING_CONFIG],
          useFactory: async (config: AlertingConfig): Promise<SnsNotifier> => {
            const [{ SnsNotifier }, { SNSClient }] = await Promise.all([
              import('./sns.notifier.js'),
              import('@aws-sdk/client-sns'),
            ]);
            // The dispatcher owns retries (backoff, ordering, the 24 h limit); SDK retries would multiply them.
            const client = new SNSClient({
              region: options.region ?? 'eu-central-1',
              endpoint: options.endpoint,
              maxAttempts: 1,
            });
            return new SnsNotifier({
              topicArn: options.topicArn,
              client,
              timeoutMs: config.delivery.timeoutMs,
            });
          },
        },
      ],
    };
  }
}
