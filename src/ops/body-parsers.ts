import type { INestApplication } from '@nestjs/common';

export const ALERTING_BODY_LIMIT_BYTES = 1024 * 1024;

/** `useBodyParser` as NestExpressApplication and NestFastifyApplication both declare it. */
interface WithBodyParser extends INestApplication {
  useBodyParser(
    type: string,
    options?: Record<string, unknown>,
    parser?: (req: unknown, body: Buffer) => unknown,
  ): unknown;
}

interface BodyParserError {
  type?: string;
  status?: number;
  statusCode?: number;
}

/**
 * What the alerting routes need from the platform's body parsing, the same on Express and
 * Fastify: JSON bodies up to 1 MiB (a batch of alerts; Express's default is 100 KB), and
 * `text/plain` bodies as a string (SNS posts its JSON as text/plain; Express leaves such a
 * body unread). Parsers are per application on both platforms, so this applies to the
 * host's own routes too. Call it once, right after `NestFactory.create`, before any other
 * body parser and before `listen()`/`init()`.
 */
export function useAlertingBodyParsers(app: INestApplication): void {
  const adapter = app.getHttpAdapter();
  const type = adapter.getType();
  if (type === 'express') useOnExpress(app as WithBodyParser);
  else if (type === 'fastify') useOnFastify(app as WithBodyParser);
  else throw new Error(`useAlertingBodyParsers: unsupported platform ${type}`);
}

function useOnExpress(app: WithBodyParser): void {
  // Nest registers its default JSON parser (100 KB) at init only if none is there yet.
  app.useBodyParser('json', { limit: ALERTING_BODY_LIMIT_BYTES });
  app.useBodyParser('text', {
    type: 'text/plain',
    limit: ALERTING_BODY_LIMIT_BYTES,
  });
  // Parser errors happen before routing, so no Nest filter sees them; answer them as Nest
  // answers Fastify's own parser errors, instead of Express's HTML page.
  app.use(
    (
      error: BodyParserError,
      _req: unknown,
      res: {
        headersSent: boolean;
        status(code: number): { json(body: unknown): void };
      },
      next: (error?: unknown) => void,
    ) => {
      const status = error?.statusCode ?? error?.status;
      if (res.headersSent || typeof status !== 'number' || status >= 500)
        return next(error);
      const answer = EXPRESS_PARSER_ERRORS[error.type ?? ''];
      if (!answer) return next(error);
      res
        .status(answer.status)
        .json({ statusCode: answer.status, message: answer.message });
    },
  );
}

const EXPRESS_PARSER_ERRORS: Record<
  string,
  { status: number; message: string }
> = {
  'entity.too.large': {
    status: 413,
    message: 'Request body is too large',
  },
  'entity.parse.failed': {
    status: 400,
    message:
      "Body is not valid JSON but content-type is set to 'application/json'",
  },
  'encoding.unsupported': {
    status: 415,
    message: 'unsupported charset',
  },
  'charset.unsupported': {
    status: 415,
    message: 'unsupported charset',
  },
};

function useOnFastify(app: WithBodyParser): void {
  // Registered through Nest, so its own JSON parser (at the adapter's bodyLimit, which a
  // host may have changed) is not added at init; text/plain arrives as a string, as
  // Fastify's built-in parser gives it.
  app.useBodyParser('application/json', {
    bodyLimit: ALERTING_BODY_LIMIT_BYTES,
  });
  app.useBodyParser(
    'text/plain',
    { bodyLimit: ALERTING_BODY_LIMIT_BYTES },
    // Nest completes a two-argument parser with what its promise resolves to.
    async (_req, body) => body.toString('utf8'),
  );
}
