// Generates sdk-vectors.json: deliveries signed by (or, for packages that
// only verify, accepted by) the providers' own npm packages. Run it in a
// directory where the packages named in each vector are installed:
//   npm install <package>@<version> ...
//   node gen-sdk-vectors.js > sdk-vectors.json
// Every vector is checked with the package before it is written.
const crypto = require('crypto');
const out = [];
const fs = require('fs');
const path = require('path');
const pkg = (name) => name + '@' + JSON.parse(fs.readFileSync(path.join('node_modules', name, 'package.json'))).version;
const add = (v) => out.push(v);
const now = Date.now();
const hmac = (alg, key, msg, enc) => crypto.createHmac(alg, key).update(msg).digest(enc);

async function main() {
  // WorkOS: SignatureProvider.computeSignature (signer)
  {
    const { WorkOS } = require('@workos-inc/node');
    const w = new WorkOS('sk_test_1234567890');
    const body = '{"id":"event_sdk","event":"user.created","data":{}}';
    const sig = await w.webhooks.computeSignature(String(now), body, 'workos-sdk-secret');
    const header = `t=${now}, v1=${sig}`;
    await w.webhooks.verifyHeader({ payload: body, sigHeader: header, secret: 'workos-sdk-secret' });
    add({ provider: 'workos', package: pkg('@workos-inc/node'), function: 'webhooks.computeSignature', secrets: ['workos-sdk-secret'], now,
      headers: { 'WorkOS-Signature': header }, body });
  }
  // Modern Treasury: webhooks.getSignature (signer)
  {
    const MT = require('modern-treasury').default || require('modern-treasury');
    const c = new MT({ apiKey: 'k', organizationID: 'o', organizationId: 'o' });
    const body = '{"event":"completed","data":{"id":"po_sdk"}}';
    const sig = c.webhooks.getSignature(body, { key: 'mt-sdk-key' });
    if (!c.webhooks.validateSignature(body, { 'X-Signature': sig }, { key: 'mt-sdk-key' })) throw new Error('mt');
    add({ provider: 'moderntreasury', package: pkg('modern-treasury'), function: 'webhooks.getSignature', secrets: ['mt-sdk-key'], now, headers: { 'X-Signature': sig }, body });
  }
  // Orb: webhooks.signPayload (signer), checked with verifySignature
  {
    const Orb = require('orb-billing').default || require('orb-billing');
    const c = new Orb({ apiKey: 'k' });
    const ts = new Date(now).toISOString().replace('Z', '').slice(0, 23);
    const body = '{"id":"orb_sdk","type":"invoice.issued"}';
    const sig = c.webhooks.signPayload(body, { timestamp: ts, secret: Buffer.from('orb-sdk-secret') });
    c.webhooks.verifySignature(body, { 'X-Orb-Timestamp': ts, 'X-Orb-Signature': sig }, 'orb-sdk-secret');
    add({ provider: 'orb', package: pkg('orb-billing'), function: 'webhooks.signPayload', secrets: ['orb-sdk-secret'], now, headers: { 'X-Orb-Timestamp': ts, 'X-Orb-Signature': sig }, body });
  }
  // Adyen: hmacValidator.calculateHmac (signer) for every item
  {
    const { hmacValidator: HV } = require('@adyen/api-library');
    const v = new HV();
    const key = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';
    const item = { pspReference: '7914073381342284', merchantAccountCode: 'TestMerchant', merchantReference: 'TestPayment-1407325143704',
      amount: { value: 1130, currency: 'EUR' }, eventCode: 'AUTHORISATION', success: 'true', additionalData: {} };
    item.additionalData.hmacSignature = v.calculateHmac(item, key);
    if (!v.validateHMAC(item, key)) throw new Error('adyen');
    add({ provider: 'adyen', package: pkg('@adyen/api-library'), function: 'hmacValidator.calculateHmac', secrets: [key], now,
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ live: 'false', notificationItems: [{ NotificationRequestItem: item }] }) });
    const platformBody = '{"type":"balancePlatform.accountHolder.created","data":{}}';
    const psig = crypto.createHmac('sha256', Buffer.from(key, 'hex')).update(platformBody).digest('base64');
    if (!v.validateHMACSignature(key, psig, platformBody)) throw new Error('adyen platform');
    add({ provider: 'adyenplatform', package: pkg('@adyen/api-library'), function: 'hmacValidator.validateHMACSignature (oracle)', secrets: [key], now,
      headers: { HmacSignature: psig }, body: platformBody });
  }
  // Braintree: webhookTesting.sampleNotification (signer)
  {
    const braintree = require('braintree');
    const gw = new braintree.BraintreeGateway({ environment: braintree.Environment.Sandbox, merchantId: 'm', publicKey: 'sdk_public_key', privateKey: 'sdk_private_key' });
    const n = await gw.webhookTesting.sampleNotification(braintree.WebhookNotification.Kind.SubscriptionWentPastDue, 'sub_1');
    await gw.webhookNotification.parse(n.bt_signature, n.bt_payload);
    add({ provider: 'braintree', package: pkg('braintree'), function: 'webhookTesting.sampleNotification', secrets: ['sdk_public_key:sdk_private_key'], now,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ bt_signature: n.bt_signature, bt_payload: n.bt_payload }).toString() });
  }
  // Contentful: signRequest (signer), checked with verifyRequest
  {
    const { signRequest, verifyRequest } = require('@contentful/node-apps-toolkit');
    const secret = 'b'.repeat(64);
    const body = '{"sys":{"id":"e1"}}';
    const req = { method: 'POST', path: '/hooks/contentful?space=a%20b&x=1', headers: { 'x-contentful-topic': 'ContentManagement.Entry.publish' }, body };
    const signed = signRequest(secret, req, now);
    const headers = { ...req.headers, ...signed };
    if (!verifyRequest(secret, { ...req, headers }, 0)) throw new Error('contentful');
    add({ provider: 'contentful', package: pkg('@contentful/node-apps-toolkit'), function: 'signRequest', secrets: [secret], now,
      url: 'https://hooks.example.com/hooks/contentful?space=a%20b&x=1', path: req.path, headers, body });
  }
  // HubSpot: Signature.getSignature v3 (signer)
  {
    const { Signature } = require('@hubspot/api-client');
    const body = '[{"eventId":7,"subscriptionType":"contact.creation"}]';
    const url = 'https://hooks.example.com/hubspot?portal=62515';
    const sig = Signature.getSignature('POST', 'v3', { clientSecret: 'hs-sdk-secret', requestBody: body, url, timestamp: now });
    if (!Signature.isValid({ signatureVersion: 'v3', signature: sig, clientSecret: 'hs-sdk-secret', requestBody: body, url, method: 'POST', timestamp: now })) throw new Error('hubspot');
    add({ provider: 'hubspot', package: pkg('@hubspot/api-client'), function: 'Signature.getSignature v3', secrets: ['hs-sdk-secret'], now, url,
      headers: { 'X-HubSpot-Signature-v3': sig, 'X-HubSpot-Request-Timestamp': String(now) }, body });
  }
  // Verify-only packages: signed here with node:crypto, accepted by the package.
  {
    const { verifySignature } = require('gocardless-nodejs/webhooks');
    const body = '{"events":[{"id":"EV_sdk"}]}';
    const sig = hmac('sha256', 'gc-sdk-secret', body, 'hex');
    verifySignature(body, 'gc-sdk-secret', sig);
    add({ provider: 'gocardless', package: pkg('gocardless-nodejs'), function: 'webhooks.verifySignature (oracle)', secrets: ['gc-sdk-secret'], now, headers: { 'Webhook-Signature': sig }, body });
  }
  {
    const { validateSignature } = require('@line/bot-sdk');
    const body = '{"destination":"U1","events":[]}';
    const sig = hmac('sha256', 'line-sdk-secret', body, 'base64');
    if (!validateSignature(body, 'line-sdk-secret', sig)) throw new Error('line');
    add({ provider: 'line', package: pkg('@line/bot-sdk'), function: 'validateSignature (oracle)', secrets: ['line-sdk-secret'], now, headers: { 'X-Line-Signature': sig }, body });
  }
  {
    const { WebflowClient } = require('webflow-api');
    const c = new WebflowClient({ accessToken: 'x' });
    const body = '{"triggerType":"form_submission","payload":{}}';
    const sig = hmac('sha256', 'webflow-sdk-secret', `${now}:${body}`, 'hex');
    const headers = { 'x-webflow-timestamp': String(now), 'x-webflow-signature': sig };
    if (!(await c.webhooks.verifySignature({ headers, body, secret: 'webflow-sdk-secret' }))) throw new Error('webflow');
    add({ provider: 'webflow', package: pkg('webflow-api'), function: 'webhooks.verifySignature (oracle)', secrets: ['webflow-sdk-secret'], now, headers, body });
  }
  {
    const Pusher = require('pusher');
    const p = new Pusher({ appId: '1', key: 'sdk-key', secret: 'pusher-sdk-secret', cluster: 'eu' });
    const body = '{"time_ms":1750000000000,"events":[]}';
    const headers = { 'x-pusher-key': 'sdk-key', 'x-pusher-signature': hmac('sha256', 'pusher-sdk-secret', body, 'hex'), 'content-type': 'application/json' };
    if (!p.webhook({ headers, rawBody: body }).isValid()) throw new Error('pusher');
    add({ provider: 'pusher', package: pkg('pusher'), function: 'webhook(req).isValid (oracle)', secrets: ['pusher-sdk-secret'], now, headers, body });
  }
  {
    const { ElevenLabsClient } = require('@elevenlabs/elevenlabs-js');
    const c = new ElevenLabsClient({ apiKey: 'x' });
    const t = Math.floor(now / 1000);
    const body = '{"type":"post_call_transcription","data":{}}';
    const header = `t=${t},v0=` + hmac('sha256', 'wsec_sdk', `${t}.${body}`, 'hex');
    await c.webhooks.constructEvent(body, header, 'wsec_sdk');
    add({ provider: 'elevenlabs', package: pkg('@elevenlabs/elevenlabs-js'), function: 'webhooks.constructEvent (oracle)', secrets: ['wsec_sdk'], now, headers: { 'ElevenLabs-Signature': header }, body });
  }
  {
    const { WebhookEventVerifier } = require('@onfido/api');
    const body = '{"payload":{"action":"check.completed"}}';
    const sig = hmac('sha256', 'onfido-sdk-token', body, 'hex');
    new WebhookEventVerifier('onfido-sdk-token').readPayload(body, sig);
    add({ provider: 'onfido', package: pkg('@onfido/api'), function: 'WebhookEventVerifier.readPayload (oracle)', secrets: ['onfido-sdk-token'], now, headers: { 'X-SHA2-Signature': sig }, body });
  }
  {
    const Telnyx = require('telnyx').default || require('telnyx');
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64');
    const t = String(Math.floor(now / 1000));
    const body = '{"data":{"event_type":"message.received"}}';
    const sig = crypto.sign(null, Buffer.from(`${t}|${body}`), privateKey).toString('base64');
    const headers = { 'telnyx-signature-ed25519': sig, 'telnyx-timestamp': t };
    const client = new Telnyx({ apiKey: 'x', publicKey: raw });
    await client.webhooks.unwrap(body, { headers, key: raw });
    add({ provider: 'telnyx', package: pkg('telnyx'), function: 'webhooks.unwrap (oracle)', publicKeys: [raw], now, headers, body });
  }
  {
    const { LinearWebhookClient } = require('@linear/sdk/webhooks');
    const body = `{"action":"create","type":"Issue","data":{},"webhookTimestamp":${now}}`;
    const sig = hmac('sha256', 'lin-sdk-secret', body, 'hex');
    if (!new LinearWebhookClient('lin-sdk-secret').verify(Buffer.from(body), sig)) throw new Error('linear');
    add({ provider: 'linear', package: pkg('@linear/sdk'), function: 'LinearWebhookClient.verify (oracle)', secrets: ['lin-sdk-secret'], now, headers: { 'Linear-Signature': sig }, body });
  }
  {
    const { encodeSignatureHeader, isValidSignature } = require('@sanity/webhook');
    const body = '{"_id":"sdk-doc"}';
    const header = await encodeSignatureHeader(body, now, 'sanity-sdk-secret');
    if (!(await isValidSignature(body, header, 'sanity-sdk-secret'))) throw new Error('sanity');
    add({ provider: 'sanity', package: pkg('@sanity/webhook'), function: 'encodeSignatureHeader', secrets: ['sanity-sdk-secret'], now, headers: { 'sanity-webhook-signature': header }, body });
  }
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
}
main().catch((e) => { console.error(e); process.exit(1); });
