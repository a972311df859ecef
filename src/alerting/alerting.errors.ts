/** Domain errors with a stable code; AlertingExceptionFilter maps them to HTTP. */
export class AlertingError extends Error {
  constructor(
    readonly code: 'not-found' | 'conflict' | 'invalid' | 'unavailable',
    message: string,
  ) {
    super(message);
    this.name = 'AlertingError';
  }
}
