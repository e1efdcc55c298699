package testvectors

// worldlineSDKBody and its signature are the valid delivery of
// onlinepayments-sdk-nodejs __tests__/unit/webhooks/webhooks.test.ts (and
// connect-sdk-nodejs's same test), key id dummy-key-id, secret hello+world.
const worldlineSDKBody = `{
  "apiVersion": "v1",
  "id": "8ee793f6-4553-4749-85dc-f2ef095c5ab0",
  "created": "2017-02-02T11:24:14.040+0100",
  "merchantId": "20000",
  "type": "payment.paid",
  "payment": {
    "id": "00000200000143570012",
    "paymentOutput": {
      "amountOfMoney": {
        "amount": 1000,
        "currencyCode": "EUR"
      },
      "references": {
        "paymentReference": "200001681810"
      },
      "paymentMethod": "bankTransfer",
      "bankTransferPaymentMethodSpecificOutput": {
        "paymentProductId": 11
      }
    },
    "status": "PAID",
    "statusOutput": {
      "isCancellable": false,
      "statusCategory": "COMPLETED",
      "statusCode": 1000,
      "statusCodeChangeDateTime": "20170202112414",
      "isAuthorized": true
    }
  }
}`

// ngrokPublished are published vectors for the presets that complete
// ngrok's list.
func ngrokPublished() []Case {
	return []Case{
		fixed("worldline", "onlinepayments-sdk-nodejs webhooks.test.ts validBody/validSignature", dNow, []string{"hello+world"}, "https://example.com/hook", worldlineSDKBody,
			"X-GCS-Signature", "2S7doBj/GnJnacIjSJzr5fxGM5xmfQyFAwxv1I53ZEk=", "X-GCS-KeyId", "dummy-key-id", "Content-Type", "application/json"),
	}
}
