import { Initial1764200000000 } from './1764200000000-initial.js';

/** Every migration, oldest first. A host app reusing its own connection lists these. */
export const alertingMigrations = [Initial1764200000000];
