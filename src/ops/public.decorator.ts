import { SetMetadata } from '@nestjs/common';

/** Metadata key of {@link AlertingPublic}, for a host's own guard to read. */
export const ALERTING_PUBLIC_KEY = 'alerting:public';

/**
 * Marks a controller or route as authenticated otherwise than by an API key: `POST /v1/sns`,
 * which SNS cannot send a key to and which its message signature authenticates. A host's
 * global guard skips these with
 * `reflector.getAllAndOverride(ALERTING_PUBLIC_KEY, [ctx.getHandler(), ctx.getClass()])`.
 */
export const AlertingPublic = () => SetMetadata(ALERTING_PUBLIC_KEY, true);
