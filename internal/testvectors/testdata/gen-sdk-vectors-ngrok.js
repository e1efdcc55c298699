// Generates sdk-vectors-ngrok.json: deliveries for the presets that complete
// ngrok's verify-webhook list, signed by (or, for packages that only verify,
// accepted by) the providers' own SDKs. Run it in a directory where
//   npm install plivo@4.79.0 @hygraph/utils@1.2.1 onlinepayments-sdk-nodejs@6.2.0 \
//     connect-sdk-nodejs@5.2.0 standardwebhooks@1.1.1 typescript@5
// are installed, and where sdk-src/ holds two SDKs the npm registry here does
// not serve (in a version with webhook verification), as git sources:
//   sdk-src/castle-node          castle/castle-node@fd338d0 (@castleio/sdk 3.1.0)
//   sdk-src/webhook-verifier-js  go1com/webhook-verifier-js@24f831b (@go1/webhook-verifier-js 1.0.4)
// (git archive --prefix=<name>/ <commit> src | tar -x -C sdk-src); their
// TypeScript is transpiled here with typescript, unchanged. Then
//   node gen-sdk-vectors-ngrok.js > sdk-vectors-ngrok.json
// Every vector is checked with the SDK before it is written.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const querystring = require('querystring');
const ts = require('typescript');
const out = [];
const pkg = (name) => name + '@' + JSON.parse(fs.readFileSync(path.join('node_modules', name, 'package.json'))).version;
const add = (v) => out.push(v);
const now = Date.now();
const hmac = (alg, key, msg, enc) => crypto.createHmac(alg, key).update(msg).digest(enc);

// loadTS transpiles a TypeScript SDK's source files to CommonJS and loads
// entry (a path under dir, without extension).
function loadTS(dir, entry) {
  const cache = {};
  const load = (file) => {
    if (cache[file]) return cache[file].exports;
    const src = fs.readFileSync(file + '.ts', 'utf8');
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true } }).outputText;
    const mod = { exports: {} };
    cache[file] = mod;
    const req = (name) => {
      if (!name.startsWith('.')) return require(name);
      const base = path.resolve(path.dirname(file), name);
      return load(fs.existsSync(base + '.ts') ? base : path.join(base, 'index'));
    };
    new Function('require', 'module', 'exports', js)(req, mod, mod.exports);
    return mod.exports;
  };
  return load(path.resolve(dir, entry));
}

// plivoBase builds the string Plivo V3 signs before ".nonce"; the SDK's
// validateV3Signature accepting the result is what checks it.
function plivoBase(method, uri, params) {
  const u = new URL(uri);
  const sortKV = (map, join) => Object.keys(map).sort().flatMap((k) => [].concat(map[k]).sort().map((v) => join(k, v)));
  let base = u.protocol + '//' + u.host + (uri.split('://')[1].split(/[?#]/)[0].replace(/^[^/]*/, ''));
  const q = sortKV(querystring.parse(uri.split('#')[0].split('?')[1] || ''), (k, v) => k + '=' + v).join('&');
  if (method === 'GET') return q ? base + '?' + q : base;
  const p = sortKV(params, (k, v) => k + v).join('');
  if (q || p) base += '?' + q;
  if (q && p) base += '.';
  return base + p;
}

async function main() {
  // Plivo: utils/v3Security validateV3Signature (verifier only), as a Node
  // app calls it with querystring.parse(body) as params.
  {
    const plivo = require('plivo');
    const token = 'MAXXXXXXXXXXXXXXXXXX0';
    const cases = [
      { method: 'POST', url: 'https://hooks.example.com/plivo/answer?b=2&a=1&a=0', body: 'From=14155550100&To=14155550199&CallUUID=c1e0-7a55&Digits=9&Digits=1&Text=caf%C3%A9+ol%C3%A9' },
      { method: 'POST', url: 'https://hooks.example.com/plivo/status', body: 'MessageUUID=m-1&Status=delivered&Units=1' },
      { method: 'POST', url: 'https://hooks.example.com:8443/plivo/a%20b/?x=%2F&x=1', body: '' },
      { method: 'GET', url: 'https://hooks.example.com/plivo/status?Status=delivered&MessageUUID=m-2&From=1415', body: '' },
      { method: 'GET', url: 'https://hooks.example.com/plivo/plain', body: '' },
    ];
    cases.forEach((c, i) => {
      const nonce = String(10000000000000000000n + BigInt(i) * 7919n);
      const params = c.body ? querystring.parse(c.body) : {};
      const sig = crypto.createHmac('sha256', token).update(plivoBase(c.method, c.url, params) + '.' + nonce).digest('base64');
      if (!plivo.validateV3Signature(c.method, c.url, nonce, token, sig, params)) throw new Error('plivo ' + i);
      if (plivo.validateV3Signature(c.method, c.url, nonce, token + 'x', sig, params)) throw new Error('plivo wrong key ' + i);
      const headers = { 'X-Plivo-Signature-V3': sig, 'X-Plivo-Signature-V3-Nonce': nonce };
      if (c.body) headers['Content-Type'] = 'application/x-www-form-urlencoded';
      add({ provider: 'plivo', package: pkg('plivo'), function: 'validateV3Signature (oracle)', secrets: [token], now, method: c.method, url: c.url, headers, body: c.body });
    });
  }
  // Hygraph: generateWebhookSignature (signer), checked with verifyWebhookSignature.
  {
    const { generateWebhookSignature, verifyWebhookSignature } = require('@hygraph/utils');
    const secret = 'rCNwyiloY3oJYYkxgpBXaleIiUv5MYlx';
    const bodies = [
      '{"operation":"publish","data":{"__typename":"Post","id":"ckv1"}}',
      '{"title":"quote \\" backslash \\\\ <b>&amp;</b> café 😀","raw":"tab\there"}\n',
      'control \u0001\u001f\b\f line\u2028sep\u2029 and \r\n',
    ];
    bodies.forEach((body, i) => {
      const signature = generateWebhookSignature({ rawPayload: body, secret, environmentName: i === 1 ? 'staging "eu"' : 'master' });
      if (!verifyWebhookSignature({ rawPayload: body, signature, secret })) throw new Error('hygraph ' + i);
      const t = Number(signature.split('t=')[1]);
      add({ provider: 'hygraph', package: pkg('@hygraph/utils'), function: 'generateWebhookSignature', secrets: [secret], now: t, headers: { 'gcms-signature': signature }, body });
    });
  }
  // Worldline: webhooks helper unmarshal (verifier only), both SDKs.
  for (const name of ['onlinepayments-sdk-nodejs', 'connect-sdk-nodejs']) {
    const { webhooks } = require(name);
    webhooks.inMemorySecretKeyStore.storeSecretKey('key-2', 'worldline+secret/key');
    const init = webhooks.init || webhooks.v1.init; // Connect's helpers are per API version
    const helper = init({ getSecretKey: webhooks.inMemorySecretKeyStore.getSecretKey });
    const body = '{"apiVersion":"v1","id":"' + name + '-evt","created":"2026-01-02T11:24:14.040+0100","merchantId":"20000","type":"payment.created","payment":{"id":"000002","status":"CREATED"}}';
    const headers = { 'X-GCS-Signature': hmac('sha256', 'worldline+secret/key', body, 'base64'), 'X-GCS-KeyId': 'key-2', 'Content-Type': 'application/json' };
    const event = await helper.unmarshal(body, headers);
    if (event.id !== name + '-evt') throw new Error('worldline ' + name);
    add({ provider: 'worldline', package: pkg(name), function: (webhooks.init ? 'webhooks.init' : 'webhooks.v1.init') + '(...).unmarshal (oracle)', secrets: ['worldline+secret/key'], now, headers, body });
  }
  // Brex: Standard Webhooks (svix-style) with a Brex-form secret, plain
  // base64 without whsec_, signed by the standardwebhooks reference library.
  {
    const { Webhook } = require('standardwebhooks');
    const secret = Buffer.from('brex-webhook-secret-0123456789').toString('base64');
    const wh = new Webhook(secret);
    const body = '{"event_type":"TRANSFER_PROCESSED","transfer_id":"tr_1"}';
    const signature = wh.sign('msg_brex_sdk', new Date(now), body);
    const headers = { 'Webhook-Id': 'msg_brex_sdk', 'Webhook-Timestamp': String(Math.floor(now / 1000)), 'Webhook-Signature': signature };
    wh.verify(body, { 'webhook-id': headers['Webhook-Id'], 'webhook-timestamp': headers['Webhook-Timestamp'], 'webhook-signature': signature });
    add({ provider: 'brex', package: pkg('standardwebhooks'), function: 'Webhook.sign', secrets: [secret], now, headers, body });
  }
  // Castle: WebhookVerifyService.call (verifier only), from castle-node's source.
  {
    const { WebhookVerifyService } = loadTS('sdk-src/castle-node', 'src/webhook/services/webhook-verify.service');
    const body = '{"api_version":"v1","app_id":"492235726978563","type":"$incident.confirmed","created_at":"2026-01-18T14:45:12.000Z","data":{"id":"test","device_token":"token","user_id":"user1"}}';
    const sig = hmac('sha256', 'castle-sdk-api-secret', body, 'base64');
    WebhookVerifyService.call(body, sig, { apiSecret: 'castle-sdk-api-secret' });
    let refused = false;
    try { WebhookVerifyService.call(body, sig, { apiSecret: 'other' }); } catch (e) { refused = true; }
    if (!refused) throw new Error('castle wrong key');
    add({ provider: 'castle', package: 'castle/castle-node@fd338d0 (@castleio/sdk 3.1.0 source)', function: 'WebhookVerifyService.call (oracle)', secrets: ['castle-sdk-api-secret'], now,
      headers: { 'X-Castle-Signature': sig, 'Content-Type': 'application/json' }, body });
  }
  // Go1: verifySignature (verifier only), from go1com/webhook-verifier-js's
  // source, signed as its own spec's createSignature does.
  {
    const { verifySignature } = loadTS('sdk-src/webhook-verifier-js', 'src/index');
    const t = Math.floor(now / 1000);
    const body = '{"id":"6f1c","event_type":"enrollment.complete"}';
    const header = `t=${t},v1=` + crypto.createHmac('sha256', 'go1-sdk-secret').update(`${t}.${body}`, 'utf-8').digest('hex');
    verifySignature(header, body, 'go1-sdk-secret');
    add({ provider: 'go1', package: 'go1com/webhook-verifier-js@24f831b (@go1/webhook-verifier-js 1.0.4 source)', function: 'verifySignature (oracle)', secrets: ['go1-sdk-secret'], now,
      headers: { 'Go1-Signature': header, 'Content-Type': 'application/json' }, body });
  }
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
}
main().catch((e) => { console.error(e); process.exit(1); });
