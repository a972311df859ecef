import {
  BUSY_CHECKPOINT_PAGES,
  CheckpointPacer,
  REST_CHECKPOINT_PAGES,
} from './checkpoint-pacer.js';

describe('CheckpointPacer', () => {
  const pacerWithLog = () => {
    const set: number[] = [];
    return { pacer: new CheckpointPacer((pages) => set.push(pages)), set };
  };
  const commit = (pacer: CheckpointPacer, units: number, times: number) => {
    for (let i = 0; i < times; i++) pacer.committed(units);
  };

  it('leaves the threshold at rest while each commit holds one unit', () => {
    const { pacer, set } = pacerWithLog();
    commit(pacer, 1, 1000);
    expect(set).toEqual([]);
    expect(pacer.pages).toBe(REST_CHECKPOINT_PAGES);
  });

  it('does not react to a few commits that happened to hold two units', () => {
    const { pacer, set } = pacerWithLog();
    for (let i = 0; i < 100; i++) {
      commit(pacer, 2, 2);
      commit(pacer, 1, 8);
    }
    expect(set).toEqual([]);
  });

  it('raises the threshold once while units queue behind each commit, and lowers it once they stop', () => {
    const { pacer, set } = pacerWithLog();
    commit(pacer, 4, 200);
    expect(set).toEqual([BUSY_CHECKPOINT_PAGES]);
    expect(pacer.pages).toBe(BUSY_CHECKPOINT_PAGES);

    commit(pacer, 1, 200);
    expect(set).toEqual([BUSY_CHECKPOINT_PAGES, REST_CHECKPOINT_PAGES]);
    expect(pacer.pages).toBe(REST_CHECKPOINT_PAGES);
  });

  it('reacts within a few dozen commits either way', () => {
    const { pacer, set } = pacerWithLog();
    commit(pacer, 4, 10);
    expect(set).toEqual([BUSY_CHECKPOINT_PAGES]);
    commit(pacer, 1, 30);
    expect(set).toEqual([BUSY_CHECKPOINT_PAGES, REST_CHECKPOINT_PAGES]);
  });

  it('stays busy through a load that varies around its mark instead of switching back and forth', () => {
    const { pacer, set } = pacerWithLog();
    commit(pacer, 3, 50);
    for (let i = 0; i < 500; i++) pacer.committed(i % 3 === 0 ? 1 : 2);
    expect(set).toEqual([BUSY_CHECKPOINT_PAGES]);
  });

  it('tries again at the next commit when the connection refused the change', () => {
    let refuse = true;
    const set: number[] = [];
    const pacer = new CheckpointPacer((pages) => {
      if (refuse) throw new Error('The database connection is not open');
      set.push(pages);
    });
    expect(() => commit(pacer, 4, 10)).toThrow('not open');
    expect(pacer.pages).toBe(REST_CHECKPOINT_PAGES);
    refuse = false;
    pacer.committed(4);
    expect(set).toEqual([BUSY_CHECKPOINT_PAGES]);
  });
});
