import {
  createConnection,
  createServer,
  type Server,
  type Socket,
} from 'node:net';

/**
 * A TCP proxy to a real server that a test can cut: `close()` refuses and drops every
 * connection (the database is unreachable), `silence()` keeps accepting but forwards
 * nothing either way (the database, or the network to it, stopped answering), `open()`
 * forwards again, delivering whatever was held back while silent.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private silent = false;
  port = 0;

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  static async start(host: string, port: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(host, port);
    await proxy.listen();
    return proxy;
  }

  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  private listen(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    const upstream = createConnection(this.upstreamPort, this.upstreamHost);
    upstream.on('error', () => client.destroy());
    const pair = { client, upstream };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.once('close', drop);
    upstream.once('close', drop);
    if (this.silent) {
      client.pause();
      upstream.pause();
    }
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => client.write(chunk));
  }

  /** Accepts, then never answers: data waits in the paused sockets. */
  silence(): void {
    this.silent = true;
    for (const { client, upstream } of this.pairs) {
      client.pause();
      upstream.pause();
    }
  }

  /** Refuses new connections and drops the open ones. */
  async close(): Promise<void> {
    this.silent = false;
    const server = this.server;
    this.server = null;
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  /** Forwards again, on the same port. */
  async open(): Promise<void> {
    this.silent = false;
    for (const { client, upstream } of this.pairs) {
      client.resume();
      upstream.resume();
    }
    if (!this.server) await this.listen();
  }
}
