import type { Provider } from '@nestjs/common';
import { ALERTING_CONFIG } from '../alerting/alerting.options.js';
import type { AlertingConfig } from '../config/alerting.config.js';
import { SnsInboxService } from './sns-inbox.service.js';
import {
  SnsSignatureVerifier,
  SnsSubscriptionConfirmer,
} from './sns-signature.verifier.js';

/**
 * The inbound SNS edge. The verifier is a singleton on purpose: it caches signing
 * certificates, so only the first message per certificate costs a fetch.
 */
export const snsProviders: Provider[] = [
  {
    provide: SnsSignatureVerifier,
    inject: [ALERTING_CONFIG],
    useFactory: (config: AlertingConfig) =>
      new SnsSignatureVerifier({
        certUrlPattern: new RegExp(config.sns.certUrlPattern),
        topicAllowlist: config.sns.topicAllowlist,
      }),
  },
  {
    provide: SnsSubscriptionConfirmer,
    inject: [ALERTING_CONFIG],
    useFactory: (config: AlertingConfig) =>
      new SnsSubscriptionConfirmer({
        urlPattern: new RegExp(config.sns.certUrlPattern),
      }),
  },
  SnsInboxService,
];
