import { HttpModule, HttpService } from '@nestjs/axios';
import { Module, type DynamicModule } from '@nestjs/common';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import { WebhookNotifier } from './webhook.notifier.js';

/** Options of {@link WebhookNotifierModule.forRoot}. */
export interface WebhookNotifierOptions {
  /** where each transition is POSTed as JSON; any 2xx is success */
  url: string;
  /** per request; default the core's `delivery.timeout` */
  timeoutMs?: number;
}

/** The `webhook` adapter. */
@Module({})
export class WebhookNotifierModule {
  static forRoot(options: WebhookNotifierOptions): DynamicModule {
    return {
      module: WebhookNotifierModule,
      imports: [HttpModule],
      providers: [
        {
          provide: WebhookNotifier,
          inject: [HttpService, ALERTING_CONFIG],
          useFactory: (http: HttpService, config: AlertingConfig) =>
            new WebhookNotifier(
              http.axiosRef,
              options.url,
              options.timeoutMs ?? config.delivery.timeoutMs,
            ),
        },
      ],
    };
  }
}
