import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * SQLite `DATABASE_URL`s the service cannot use, each built in a fresh directory `dir`,
 * with the reason its refusal must name: [what is wrong, url in dir, reason].
 */
export const BAD_SQLITE_PATHS: [string, (dir: string) => string, RegExp][] = [
  [
    'a file stands where its directory should be',
    (dir) => {
      writeFileSync(join(dir, 'taken'), 'not a directory');
      return `sqlite:${join(dir, 'taken', 'alerting.sqlite')}`;
    },
    /cannot create the directory of the SQLite file \(.*taken\): EEXIST/,
  ],
  [
    // Node 20's recursive mkdirSync loops forever here: the boot hung instead of failing
    'its directory cannot exist (under /proc)',
    () => `sqlite:/proc/alerting-no-such-dir-${process.pid}/alerting.sqlite`,
    /cannot create the directory of the SQLite file \(\/proc\/alerting-no-such-dir-\d+\): ENOENT/,
  ],
  [
    'the path is a directory',
    (dir) => `sqlite:${dir}`,
    /is a directory, not a SQLite file/,
  ],
];
