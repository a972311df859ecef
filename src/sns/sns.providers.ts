import type { Provider } from '@nestjs/common';
import { SnsInboxService } from './sns-inbox.service.js';
import {
  SnsSignatureVerifier,
  SnsSubscriptionConfirmer,
} from './sns-signature.verifier.js';

export const SNS_INGEST_OPTIONS = Symbol('SNS_INGEST_OPTIONS');

interface SnsIngestSettings {
  topicAllowlist: string[];
  certUrlPattern: string;
}

/**
 * The inbound SNS edge. The verifier is a singleton on purpose: it caches signing
 * certificates, so only the first message per certificate costs a fetch.
 */
export const snsProviders: Provider[] = [
  {
    provide: SnsSignatureVerifier,
    inject: [SNS_INGEST_OPTIONS],
    useFactory: (sns: SnsIngestSettings) =>
      new SnsSignatureVerifier({
        certUrlPattern: new RegExp(sns.certUrlPattern),
        topicAllowlist: sns.topicAllowlist,
      }),
  },
  {
    provide: SnsSubscriptionConfirmer,
    inject: [SNS_INGEST_OPTIONS],
    useFactory: (sns: SnsIngestSettings) =>
      new SnsSubscriptionConfirmer({
        urlPattern: new RegExp(sns.certUrlPattern),
      }),
  },
  SnsInboxService,
];
