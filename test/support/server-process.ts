import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TEST_API_KEY } from './test-app.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A real `node dist/main.js` (build first: `npm run build`), for crash and multi-instance tests. */
export class ServerProcess {
  private child: ChildProcess | null = null;
  readonly output: string[] = [];
  exitCode: number | null = null;
  signal: NodeJS.Signals | null = null;

  constructor(
    readonly env: Record<string, string>,
    readonly port: number,
  ) {}

  static async start(env: Record<string, string>): Promise<ServerProcess> {
    const port = await freePort();
    const server = new ServerProcess(env, port);
    await server.start();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    this.exitCode = null;
    this.signal = null;
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        API_KEYS: TEST_API_KEY,
        LOG_LEVEL: 'warn',
        ...this.env,
        PORT: String(this.port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (d) => this.output.push(String(d)));
    child.stderr!.on('data', (d) => this.output.push(String(d)));
    const exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        resolve();
      }),
    );
    this.exitPromise = exited;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.exitCode !== null || this.signal !== null) {
        throw new Error(
          `server exited during start (${this.exitCode ?? this.signal}):\n${this.output.join('')}`,
        );
      }
      try {
        const res = await fetch(`${this.url}/v1/incidents?limit=1`, {
          headers: { 'x-api-key': TEST_API_KEY },
        });
        if (res.status < 500) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `server did not start within 20 s:\n${this.output.join('')}`,
    );
  }

  private exitPromise: Promise<void> = Promise.resolve();

  /** Resolves when the process has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.child || this.exitCode !== null || this.signal !== null) return;
    this.child.kill(signal);
    await this.exitPromise;
  }

  waitForExit(): Promise<void> {
    return this.exitPromise;
  }

  async post(path: string, body: unknown): Promise<Response> {
    return fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': TEST_API_KEY,
      },
      body: JSON.stringify(body),
    });
  }

  async get(path: string): Promise<any> {
    const res = await fetch(`${this.url}${path}`, {
      headers: { 'x-api-key': TEST_API_KEY },
    });
    return res.json();
  }
}
