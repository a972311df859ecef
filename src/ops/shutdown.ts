import { Socket } from 'node:net';
import {
  Logger,
  type INestApplication,
  type LoggerService,
} from '@nestjs/common';

/**
 * SIGTERM/SIGINT: `app.close()` stops the listener (Fastify lets requests in flight
 * finish), the dispatcher drains in-flight deliveries (bounded), TypeORM closes the
 * database; then exit 0. Nest's own signal hooks re-raise the signal after closing,
 * which an orchestrator reports as a crash, hence this handler. A second signal or
 * the deadline forces exit 1.
 *
 * Client connections get `requestGraceMs` to finish what they are sending or receiving;
 * whatever is still open then is cut, so that one client stalled half-way through a
 * request, or connected without sending one (Node counts both as active, and its idle
 * sweep skips them), cannot hold the drain of deliveries and the database close past the
 * deadline.
 * Call it before `app.listen()`: it tracks the connections the server accepts.
 */
export function installGracefulShutdown(
  app: INestApplication,
  logger: LoggerService = new Logger(),
  deadlineMs = 25_000,
  requestGraceMs = 5_000,
): void {
  const server = app.getHttpServer() as {
    closeIdleConnections?: () => void;
    closeAllConnections?: () => void;
    on?: (event: 'connection', listener: (socket: Socket) => void) => void;
    once?: (event: 'close', listener: () => void) => void;
  };
  // Node's closeAllConnections() only knows sockets its HTTP parser still tracks.
  const connections = new Set<Socket>();
  server.on?.('connection', (socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn?.(`${signal} again: exiting now`, 'Shutdown');
      process.exit(1);
    }
    closing = true;
    logger.log(
      `${signal}: closing (stop accepting, drain deliveries, close database)`,
      'Shutdown',
    );
    let httpClosed = false;
    server.once?.('close', () => {
      httpClosed = true;
    });
    setTimeout(() => {
      // what the close was still waiting on, for whoever reads the log afterwards
      const pending = new Map<string, number>();
      for (const kind of process.getActiveResourcesInfo())
        pending.set(kind, (pending.get(kind) ?? 0) + 1);
      logger.error(
        `shutdown took longer than ${deadlineMs} ms: exiting (still open: ${[...pending].map(([k, n]) => `${k}×${n}`).join(', ')}${openSockets()}; HTTP server ${httpClosed ? 'closed' : 'still closing'})`,
        undefined,
        'Shutdown',
      );
      process.exit(1);
    }, deadlineMs).unref();
    // server.close() drops idle keep-alive sockets only once; a socket whose request was
    // in flight at that moment turns idle later and would hold the close open for the
    // whole keep-alive timeout (72 s), so idle sockets are swept until the close is done.
    const cutAt = Date.now() + requestGraceMs;
    let cut = false;
    const sweep = setInterval(() => {
      if (httpClosed) return;
      if (Date.now() < cutAt) {
        server.closeIdleConnections?.();
        return;
      }
      if (connections.size === 0) return;
      if (!cut)
        logger.warn?.(
          `${connections.size} client connection(s) still open ${requestGraceMs} ms after ${signal}: closing them (${[...connections].map(describeSocket).join(', ')})`,
          'Shutdown',
        );
      cut = true;
      server.closeAllConnections?.();
      for (const socket of connections) socket.destroy();
      connections.clear();
    }, 100).unref();
    app
      .close()
      .finally(() => clearInterval(sweep))
      .then(
        () => {
          logger.log('closed', 'Shutdown');
          process.exit(0);
        },
        (error: Error) => {
          logger.error(
            `shutdown failed: ${error.message}`,
            error.stack,
            'Shutdown',
          );
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** `; sockets: local→remote, …` for the TCP sockets still open, to tell clients from the database. */
function openSockets(): string {
  const handles = (
    process as unknown as { _getActiveHandles?: () => unknown[] }
  )._getActiveHandles?.();
  const sockets = (handles ?? [])
    .filter((h): h is Socket => h instanceof Socket && !!h.remotePort)
    .map(describeSocket);
  return sockets.length > 0 ? `; sockets: ${sockets.join(', ')}` : '';
}

function describeSocket(s: Socket): string {
  return `${s.localAddress}:${s.localPort}→${s.remoteAddress}:${s.remotePort}${s.readyState === 'open' ? '' : ` (${s.readyState})`}`;
}
