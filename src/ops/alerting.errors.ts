/** Domain errors with a stable code; AlertingExceptionFilter maps them to HTTP. */
export class AlertingError extends Error {
  /** one line per problem (a rejected alert's fields); answered as the `message` list */
  readonly problems?: string[];

  constructor(
    readonly code: 'not-found' | 'conflict' | 'invalid' | 'unavailable',
    message: string,
    /** `cause`: what went wrong underneath, logged with the 5xx (never sent) */
    options?: ErrorOptions & { problems?: string[] },
  ) {
    super(message, options);
    this.name = 'AlertingError';
    if (options?.problems) this.problems = options.problems;
  }
}
