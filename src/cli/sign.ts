// `npm run -s sign -- '<json body>'`: the Standard Webhooks headers for that exact body, as curl
// arguments. `npm run -s sign -- --token <scope>`: a bearer token with that scope, as curl's
// `--oauth2-bearer` argument. Secrets come from where the API reads them (environment or the
// secrets file), so curl by hand signs like the routing platform does.
//
//   BODY='{"eventId":"evt-1", ...}'
//   curl localhost:3000/webhooks/routing-events -H 'content-type: application/json' $(npm run -s sign -- "$BODY") --data-binary "$BODY"
//   curl $(npm run -s sign -- --token operator) localhost:3000/conversations/c-1001
//
// The printed words hold no spaces or shell patterns, so an unquoted $(…) splits them correctly.
import { ConfigError, loadConfig } from '../config';
import { isScope, SCOPES } from '../security/auth';
import { signWebhook } from '../security/webhook-signature';

const USAGE = `usage:
  npm run -s sign -- '<json body>'      webhook headers for that body (send it byte for byte: --data-binary)
  npm run -s sign -- --token <scope>    a bearer token with that scope (${SCOPES.join(', ')})`;

function main(args: string[]): number {
  if (args.length === 0 || args[0] === '--help' || args[0] === '-h') {
    console.error(USAGE);
    return args.length === 0 ? 2 : 0;
  }
  const { secrets } = loadConfig(process.env, ['secrets']);
  if (args[0] === '--token') {
    const scope = args[1] ?? '';
    if (!isScope(scope)) {
      console.error(`unknown scope "${scope}"\n${USAGE}`);
      return 2;
    }
    const entry = secrets.tokens.find((t) => t.scopes.includes(scope));
    if (!entry) {
      console.error(`no token with the scope ${scope} in ${secrets.sources.tokens}`);
      return 1;
    }
    console.log(`--oauth2-bearer ${entry.token}`);
    return 0;
  }
  if (args.length !== 1) {
    console.error(`pass the body as one argument (quote it)\n${USAGE}`);
    return 2;
  }
  // The first secret is the current one; older ones are only still accepted.
  const headers = signWebhook(secrets.webhookSecrets[0], args[0]);
  console.log(Object.entries(headers).map(([name, value]) => `-H ${name}:${value}`).join(' '));
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exitCode = 1;
}
