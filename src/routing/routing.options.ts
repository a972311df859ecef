export const ROUTING_OPTIONS = Symbol('ROUTING_OPTIONS');

/** Options of {@link RoutingModule.forRoot}. */
export interface RoutingModuleOptions {
  /** the routing file (YAML or JSON); none: every incident to every enabled notifier */
  file?: string;
  /** what `${VAR}` in the file reads; the standalone app passes its environment */
  env?: Record<string, string | undefined>;
  /** reload the file on SIGHUP; default true when a file is given */
  reloadOnSighup?: boolean;
}
