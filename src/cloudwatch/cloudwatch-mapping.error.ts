export type CloudWatchMappingErrorCode =
  'invalid-json' | 'not-an-alarm' | 'unknown-state' | 'unsupported-detail-type';

/**
 * The input is not a CloudWatch alarm state change this service can turn into an alert.
 * `unsupported-detail-type` is a well-formed EventBridge event of another kind (e.g.
 * "CloudWatch Alarm Configuration Change"): answering it with 202 "ignored" keeps a
 * broad EventBridge rule from filling its dead-letter queue; the other codes are 400.
 */
export class CloudWatchMappingError extends Error {
  override readonly name = 'CloudWatchMappingError';

  constructor(
    readonly code: CloudWatchMappingErrorCode,
    message: string,
  ) {
    super(message);
  }
}
