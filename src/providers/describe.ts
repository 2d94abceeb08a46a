import type { HeaderStyle, OAuthMethod, ProviderDefinition, ProviderMethod } from "./types.ts";

/**
 * What `authctl providers --json` says about a provider: everything authctl will talk to and hand
 * out, so a user can check it before logging in — per method the endpoints, client id, scopes,
 * redirect, exported variables, whether it is the default, its policy status and its source;
 * per provider the API base (and regions) and the key check with its source. config.toml
 * overrides are already applied (the registry's view), so this is what a login would use.
 */
export function describeProvider(provider: ProviderDefinition) {
  return {
    id: provider.id,
    name: provider.name,
    custom: Boolean(provider.custom),
    default_method: provider.methods[0]?.id ?? null,
    api_url: provider.apiUrl || null,
    regions: provider.regions?.map((r) => ({ id: r.id, api_url: r.apiUrl, source: r.source })) ?? null,
    key_check: provider.validation
      ? {
          url: /^https?:\/\//.test(provider.validation.path)
            ? provider.validation.path
            : `${provider.apiUrl.replace(/\/+$/, "")}${provider.validation.path}`,
          method: provider.validation.method ?? "GET",
          auth: describeAuth(provider.validation.auth),
          refused_on: [401, 403, ...(provider.validation.rejectStatuses ?? [])],
          source: provider.validation.source,
        }
      : null,
    methods: provider.methods.map((method, index) => describeMethod(provider, method, index === 0)),
  };
}

function describeAuth(auth: HeaderStyle): string {
  return auth.kind === "bearer" ? "Authorization: Bearer <key>" : `${auth.name}: <key>`;
}

function exportsOf(
  names: string[],
  fields: Record<string, string>,
  notes: Record<string, string> | undefined,
) {
  return names.map((name) => ({ name, field: fields[name] ?? "key", note: notes?.[name] ?? null }));
}

function describeMethod(provider: ProviderDefinition, method: ProviderMethod, isDefault: boolean) {
  if (method.kind === "api_key") {
    return {
      id: method.id,
      kind: method.kind,
      label: method.label,
      default: isDefault,
      policy: provider.custom ? "configured by you" : "supported (the provider's own API key)",
      // Where the variable names and API base come from.
      source: provider.custom
        ? null
        : (provider.keySource ?? `anomalyco/models.dev providers/${provider.id}/provider.toml (env, api)`),
      exports: exportsOf(provider.keyVars, {}, provider.variableNotes),
    };
  }
  return { ...describeOAuth(method), default: isDefault };
}

function describeOAuth(method: OAuthMethod) {
  const o = method.oauth;
  const hasRedirect = method.flows.includes("loopback");
  const statePath = method.steps?.authorize?.request?.stateInRedirectPath ? "/<state>" : "";
  return {
    id: method.id,
    kind: method.kind,
    label: method.label,
    // Every loopback login also takes a pasted redirect URL (flows/loopback.ts): listed as its own flow.
    flows: method.flows.flatMap((flow) => (flow === "loopback" ? ["loopback", "paste"] : [flow])),
    policy: method.policy ?? "configured by you",
    source: method.source ?? null,
    endpoints: {
      issuer: o.issuer ?? null,
      authorize: o.authorizeUrl ?? null,
      token: o.tokenUrl ?? null,
      device_authorization:
        o.deviceAuthorizationUrl ??
        (method.steps?.authorize?.startDevice ? "(provider-specific device flow)" : null),
      revocation: o.revocationUrl ?? null,
    },
    client_id: o.clientId ?? null,
    scopes: o.scopes,
    // The parameters a provider's client adds to the authorize request, and how each token-endpoint
    // request is encoded: constants to check against the provider's own client like the rest.
    authorize_params: hasRedirect ? (o.extraAuthorizeParams ?? {}) : null,
    bodies: {
      token: o.tokenBody,
      refresh: o.refreshBody ?? o.tokenBody,
      revocation: o.revocationUrl ? (o.revocationBody ?? "form") : null,
    },
    redirect: hasRedirect
      ? {
          host: o.redirectHost,
          port: o.redirectPort === 0 ? "any" : o.redirectPort,
          fallback_ports: o.fallbackPorts,
          path: `${o.redirectPath}${statePath}`,
        }
      : null,
    exports: exportsOf(Object.keys(method.env), method.env, method.variableNotes),
  };
}
