// A real OpenID provider for the tests (npm `oidc-provider`), on 127.0.0.1.
// One confidential client (PKCE required) for Berth. Anyone signs in on the
// provider's own development login page with any password; their claims come
// from the username, their groups from OIDC_GROUPS. Consent is implied for the
// one client, as for a company's first-party application.
//
// Environment: OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET,
// OIDC_REDIRECT_URIS (comma-separated), OIDC_GROUPS (JSON: username → groups).
// Prints "listening <issuer>" once it serves.
import { createServer } from "node:http";
// The provider warns that it runs with development keys, storage and login
// pages: exactly what a test wants, so those warnings are not repeated.
const warn = console.warn;
console.warn = (...args) => {
  if (!String(args[0]).includes("oidc-provider WARNING")) warn(...args);
};
const { default: Provider } = await import("oidc-provider");

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.OIDC_CLIENT_ID ?? "berth";
const groups = JSON.parse(process.env.OIDC_GROUPS ?? "{}");

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: process.env.OIDC_REDIRECT_URIS.split(","),
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  // Berth keeps the refresh token to ask, once the ID token has expired,
  // whether the user may still use their CLI secret.
  issueRefreshToken: async () => true,
  claims: {
    openid: ["sub"],
    profile: ["name", "preferred_username"],
    email: ["email", "email_verified"],
    groups: ["groups"],
  },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["berth-tests-only"] },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: id,
          name: `Test user ${id}`,
          email: `${id}@oidc.test`,
          email_verified: true,
          groups: groups[id] ?? [],
        };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const existing = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid profile email groups");
    await grant.save();
    return grant;
  },
});

const server = createServer(provider.callback());
server.listen(port, "127.0.0.1", () => console.log(`listening ${issuer}`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
