/** Entra's discovery documents, as MSAL reads them before a sign-in. */

/**
 * `GET /{tenant}/v2.0/.well-known/openid-configuration`. For `common`/`organizations` Entra answers with a
 * `{tenantid}` placeholder that MSAL fills in.
 */
export function openIdConfiguration(url: string, tenantId: string, tenant: string): Record<string, unknown> {
  const t = tenant === tenantId ? tenantId : '{tenantid}';
  return {
    token_endpoint: `${url}/${tenant}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${url}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    // Only what is served: no implicit or hybrid flow.
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${url}/${t}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${url}/oidc/userinfo`,
    authorization_endpoint: `${url}/${tenant}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${url}/${tenant}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${url}/${tenant}/oauth2/v2.0/logout`,
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'nbf',
      'tid',
      'oid',
      'azp',
      'ver',
      'name',
      'preferred_username',
    ],
    kerberos_endpoint: `${url}/${tenant}/kerberos`,
    tenant_region_scope: null,
    cloud_instance_name: 'emulator.local',
    cloud_graph_host_name: 'graph.emulator.local',
    msgraph_host: 'graph.emulator.local',
    rbac_url: 'https://pas.emulator.local',
  };
}

/** `GET /common/discovery/instance`: the authority's host, and `localhost` as its alias. */
export function instanceDiscovery(url: string): Record<string, unknown> {
  const host = new URL(url).host;
  return {
    tenant_discovery_endpoint: `${url}/common/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [
      { preferred_network: host, preferred_cache: host, aliases: [host, host.replace('127.0.0.1', 'localhost')] },
    ],
  };
}
