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
    'the path is a directory',
    (dir) => `sqlite:${dir}`,
    /is a directory, not a SQLite file/,
  ],
];
