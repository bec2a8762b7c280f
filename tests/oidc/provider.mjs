// A real OpenID provider (the npm package `oidc-provider`, installed into target/oidc-provider by
// .ci/oidc-provider.sh) for tests/api/oidc.rs. Usage: node provider.mjs CONFIG.json
//
// The test writes CONFIG: issuer port, signing keys by kid (created once under keys_dir and
// reused, so a restart with another list is a key rotation), clients, SUPANN-shaped accounts.
// Access tokens are JWTs (RFC 9068) through resource indicators; SUPANN attributes go into
// them through `extraTokenClaims`, as a university provider's claim mappers do.
//
// People's tokens come from `POST /test/token`: a test-only route that issues an access token
// through the provider's own AccessToken class (same format, same keys, same signer as the
// authorization-code flow), because that flow needs a browser login and consent.
// `GET /test/jwks-hits` counts the JWKS requests (the rate limit on unknown `kid`s is checked
// with it). Prints `ready` once listening.
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { default: Provider } = await import(config.module);

mkdirSync(config.keys_dir, { recursive: true });
function key({ kid, kty }) {
  const file = join(config.keys_dir, `${kid}.json`);
  if (!existsSync(file)) {
    const pair = kty === 'EC'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : kty === 'OKP'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(file, JSON.stringify({ ...pair.privateKey.export({ format: 'jwk' }), kid }));
  }
  return JSON.parse(readFileSync(file, 'utf8'));
}

// Resource indicators: `audience` is what the token's `aud` says; `alg` its signature.
const resources = config.resources;
const accounts = config.accounts;
const issuer = `http://127.0.0.1:${config.port}`;
const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: { keys: config.keys.map(key) },
  scopes: ['openid', ...config.scopes],
  claims: { openid: ['sub'] },
  async findAccount(_ctx, id) {
    if (!accounts[id]) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
  },
  async extraTokenClaims(_ctx, token) {
    return token.accountId ? accounts[token.accountId] : undefined;
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => Object.keys(resources)[0],
      useGrantedResource: () => true,
      async getResourceServerInfo(_ctx, indicator) {
        const rs = resources[indicator];
        if (!rs) throw new Provider.errors.InvalidTarget();
        return {
          audience: rs.audience,
          scope: config.scopes.join(' '),
          accessTokenFormat: 'jwt',
          accessTokenTTL: 3600,
          jwt: { sign: { alg: rs.alg } },
        };
      },
    },
  },
});

let jwksHits = 0;
provider.use(async (ctx, next) => {
  if (ctx.path === '/jwks') jwksHits += 1;
  if (ctx.path === '/test/jwks-hits') {
    ctx.body = { hits: jwksHits };
    return;
  }
  if (ctx.path === '/test/token' && ctx.method === 'POST') {
    const body = await new Promise((resolve) => {
      let data = '';
      ctx.req.on('data', (c) => { data += c; });
      ctx.req.on('end', () => resolve(JSON.parse(data)));
    });
    const client = await provider.Client.find(body.client_id);
    const rs = resources[body.resource];
    const token = new provider.AccessToken({
      accountId: body.account,
      client,
      grantId: `test-${body.account}`,
      gty: 'authorization_code',
      scope: body.scope,
    });
    token.resourceServer = new provider.ResourceServer(body.resource, {
      audience: rs.audience,
      scope: config.scopes.join(' '),
      accessTokenFormat: 'jwt',
      accessTokenTTL: 3600,
      jwt: { sign: { alg: rs.alg } },
    });
    ctx.body = { access_token: await token.save() };
    return;
  }
  await next();
});

provider.listen(config.port, '127.0.0.1', () => {
  console.log('ready');
});
