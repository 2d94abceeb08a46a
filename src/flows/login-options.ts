/**
 * What `authctl login` was asked for. Declared here, below actions/, because the flows read it
 * too (device or browser, the deadline, --host) and flows never import actions/ (no layer cycle;
 * test/unit/layers.test.ts). actions/login.ts re-exports it.
 */
export interface LoginOptions {
  providerId?: string;
  method?: string;
  withKey?: boolean;
  verify?: boolean;
  device?: boolean;
  noBrowser?: boolean;
  timeoutMs?: number;
  /** GitHub Enterprise and similar: the provider's host. */
  host?: string;
  /**
   * The account the login is stored as (store/accounts.ts). Set by login() from `providerId`
   * (`openrouter@work`); a bare provider is its default account, `default` for the first one.
   */
  account?: string;
}
