/** Domain errors with a stable code; AlertingExceptionFilter maps them to HTTP. */
export class AlertingError extends Error {
  constructor(
    readonly code: 'not-found' | 'conflict' | 'invalid' | 'unavailable',
    message: string,
    /** `cause`: what went wrong underneath, logged with the 5xx (never sent) */
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'AlertingError';
  }
}
