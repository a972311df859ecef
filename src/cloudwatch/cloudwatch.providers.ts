import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Provider } from '@nestjs/common';
import { ALERTING_CONFIG } from '../alerting/alerting.options.js';
import type { AlertingConfig } from '../config/alerting.config.js';

export const CLOUDWATCH_CLIENT = Symbol('CLOUDWATCH_CLIENT');

/** Credentials come from the SDK's default chain; `AWS_ENDPOINT_URL` points the client at a local fake. */
export const cloudWatchClientProvider: Provider = {
  provide: CLOUDWATCH_CLIENT,
  inject: [ALERTING_CONFIG],
  useFactory: (config: AlertingConfig) =>
    new CloudWatchClient({
      region: config.aws.region,
      endpoint: config.aws.endpointUrl,
    }),
};
