/** Options of {@link ConsoleModule}. */
export interface ConsoleModuleOptions {
  /**
   * The header the page sends the operator's key in: `x-api-key` (default) for the
   * module's own API keys, `authorization` (`Bearer <key>`) for a host whose own guard
   * reads a bearer token.
   */
  keyHeader?: 'x-api-key' | 'authorization';
}

export const CONSOLE_OPTIONS = Symbol('CONSOLE_OPTIONS');
