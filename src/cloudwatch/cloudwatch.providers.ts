import type { Provider } from '@nestjs/common';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';

export const CLOUDWATCH_CLIENT = Symbol('CLOUDWATCH_CLIENT');

export type CloudWatchSdk = typeof import('@aws-sdk/client-cloudwatch');

/**
 * The CloudWatch client and its SDK module, loaded on first use: the SDK costs ~20 MB of
 * RSS that a service not talking to AWS should not carry.
 */
export type CloudWatchAccess = () => Promise<{
  client: CloudWatchClient;
  sdk: CloudWatchSdk;
}>;

/** Credentials come from the SDK's default chain; `endpointUrl` points the client at a local fake. */
export function createCloudWatchAccess(aws: {
  region: string;
  endpointUrl?: string;
}): CloudWatchAccess {
  let loaded: ReturnType<CloudWatchAccess> | undefined;
  return () =>
    (loaded ??= import('@aws-sdk/client-cloudwatch').then((sdk) => ({
      sdk,
      client: new sdk.CloudWatchClient({
        region: aws.region,
        endpoint: aws.endpointUrl,
      }),
    })));
}

export const cloudWatchClientProvider: Provider = {
  provide: CLOUDWATCH_CLIENT,
  inject: [ALERTING_CONFIG],
  useFactory: (config: AlertingConfig): CloudWatchAccess =>
    createCloudWatchAccess(config.aws),
};
