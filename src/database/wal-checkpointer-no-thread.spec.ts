import { WalCheckpointer } from './wal-checkpointer.js';

// A host that cannot start a thread (out of threads, a sandbox): the Worker constructor throws.
const created = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:worker_threads', async (original) => ({
  ...(await original<typeof import('node:worker_threads')>()),
  Worker: class {
    constructor() {
      created.count++;
      throw new Error('no thread available');
    }
  },
}));

describe('WalCheckpointer without threads', () => {
  it('reports a thread it cannot create once, and does not try again on later commits', () => {
    const errors: string[] = [];
    const running: boolean[] = [];
    const checkpointer = new WalCheckpointer('/nonexistent/alerting.sqlite', {
      startCommits: 1,
      onError: (error) => errors.push(error.message),
      onRunning: (on) => running.push(on),
    });
    expect(() => checkpointer.committed()).not.toThrow();
    for (let i = 0; i < 50; i++) checkpointer.committed();
    expect(created.count).toBe(1);
    expect(errors).toEqual(['no thread available']);
    expect(running).toEqual([]);
    expect(checkpointer.running).toBe(false);
  });
});
