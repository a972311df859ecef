import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'alerting:public';

/**
 * Marks a controller or route as exempt from the API key (e.g. `POST /v1/sns`, which
 * SNS cannot send a key to and which is authenticated by its message signature instead).
 */
export const Public = () => SetMetadata(IS_PUBLIC, true);
