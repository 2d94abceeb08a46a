import { AuthctlError } from "../errors.ts";

// Apart from github-copilot.ts so that its lazily loaded token exchange (github-copilot-token.ts)
// can use it without importing the provider back (no import cycle; test/unit/layers.test.ts).

/**
 * The REST API of a GitHub host, where the Copilot token exchange lives: github.com and GHE.com
 * tenants serve it at api.<host> (https://docs.github.com/en/enterprise-cloud@latest/admin/data-residency/network-details-for-ghecom),
 * a GitHub Enterprise Server at https://<host>/api/v3 (https://docs.github.com/en/enterprise-server@latest/rest/quickstart).
 */
export function githubApiBase(host: string): string {
  const domain = normalizeGitHubHost(host);
  if (domain === "github.com" || domain.endsWith(".ghe.com")) return `https://api.${domain}`;
  return `https://${domain}/api/v3`;
}

export function normalizeGitHubHost(host: string): string {
  const bare = host
    .trim()
    .replace(/^https?:\/\//, "")
    .replace(/\/.*$/, "")
    .toLowerCase();
  if (!/^[a-z0-9.-]+(:\d+)?$/.test(bare)) {
    throw new AuthctlError("USAGE", `'${host}' is not a host name`, {
      hint: "use e.g. --host company.ghe.com",
    });
  }
  return bare;
}
