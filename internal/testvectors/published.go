package testvectors

import (
	"net/url"
	"time"
)

// common inputs of providers.md §4.2 ("derived regression vectors, computed
// from the documented formulas"): secret test_secret, body {"id":"evt_1"},
// unix time 1700000000.
const (
	dSecret = "test_secret"
	dBody   = `{"id":"evt_1"}`
)

var dNow = time.Unix(1700000000, 0)

func fixed(provider, source string, now time.Time, secrets []string, u string, body string, headers ...string) Case {
	return Case{Provider: provider, Source: source, Secrets: secrets, Now: now, Method: "POST", URL: u, Header: hdr(headers...), Body: []byte(body)}
}

// Published are vectors with fixed inputs and outputs, from the providers'
// docs and SDK tests where they publish one, and providers.md §4.2 where not.
func Published() []Case {
	twilioURL := "https://mycompany.com/myapp.php?foo=1&bar=2"
	twilioForm := func(pairs ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(pairs); i += 2 {
			v.Add(pairs[i], pairs[i+1])
		}
		return v.Encode()
	}
	form := "application/x-www-form-urlencoded"
	slackV4 := `{"token":"aF5ynEYQH0dFN9imlgcADxDB","team_id":"XXXXXXXXX","api_app_id":"YYYYYYYYY","event":{"type":"app_mention","user":"AAAAAAAAA","text":"<@EEEEEEEEE> hello world","client_msg_id":"477cc591-ch73-a14z-4db8-g0cd76321bec","ts":"1531431954.000073","channel":"TTTTTTTTT","event_ts":"1531431954.000073"},"type":"event_callback","event_id":"TvBP7LRED7","event_time":1531431954,"authed_users":["EEEEEEEEE"]}`
	square := `{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}`
	sendgridBody := `{"category":"example_payload","event":"test_event","message_id":"message_id"}`

	cases := []Case{
		fixed("github", "github/docs validating-webhook-deliveries.md", time.Time{}, []string{"It's a Secret to Everybody"}, "https://example.com/hook", "Hello, World!",
			"X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
		fixed("github", "octokit/webhooks-methods.js test/sign.test.ts", time.Time{}, []string{"mysecret"}, "https://example.com/hook", `{"foo":"bar"}`,
			"X-Hub-Signature-256", "sha256=4864d2759938a15468b5df9ade20bf161da9b4f737ea61794142f3484236bda3"),
		fixed("slack", "Slack docs, Verifying requests from Slack", time.Unix(1531420618, 0), []string{"8f742231b10e8888abcd99yyyzzz85a5"}, "https://example.com/hook",
			"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
			"X-Slack-Request-Timestamp", "1531420618", "X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
		fixed("slack", "slack-go security_test.go", time.Unix(1531431954, 0), []string{"e6b19c573432dcc6b075501d51b51bb8"}, "https://example.com/hook", slackV4,
			"X-Slack-Request-Timestamp", "1531431954", "X-Slack-Signature", "v0=adada4ed31709aef585c2580ca3267678c6a8eaeb7e0c1aca3ee57b656886b2c"),
		fixed("standard", "standard-webhooks libraries/go TestWebhookSign", time.Unix(1614265330, 0), []string{whsec}, "https://example.com/hook", `{"test": 2432232314}`,
			"Webhook-Id", "msg_p5jXN8AQM9LWM0D4loKWxJek", "Webhook-Timestamp", "1614265330", "Webhook-Signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
		fixed("stripe", "stripe-go GenerateTestSignedPayload == stripe-node generateTestHeaderString (providers.md V18)", dNow, []string{"whsec_test_secret"}, "https://example.com/hook", `{"id":"evt_1","object":"event"}`,
			"Stripe-Signature", "t=1700000000,v1=0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd"),
		fixed("twilio", "Twilio docs, Webhooks security worked example (V6)", time.Time{}, []string{"12345"}, twilioURL,
			twilioForm("CallSid", "CA1234567890ABCDE", "Caller", "+12349013030", "Digits", "1234", "From", "+12349013030", "To", "+18005551212"),
			"Content-Type", form, "X-Twilio-Signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
		fixed("twilio", "twilio-go request_validator_test.go (V8)", time.Time{}, []string{"12345"}, twilioURL,
			twilioForm("CallSid", "CA1234567890ABCDE", "Caller", "+14158675309", "Digits", "1234", "From", "+14158675309", "To", "+18005551212", "ReasonConferenceEnded", "test", "Reason", "Participant"),
			"Content-Type", form, "X-Twilio-Signature", "vOEb5UThFn24KEfnOFLQY2AE5FY="),
		fixed("twilio", "twilio-go request_validator_test.go, http URL (V8)", time.Time{}, []string{"12345"}, "http://mycompany.com/myapp.php?foo=1&bar=2",
			twilioForm("CallSid", "CA1234567890ABCDE", "Caller", "+14158675309", "Digits", "1234", "From", "+14158675309", "To", "+18005551212", "ReasonConferenceEnded", "test", "Reason", "Participant"),
			"Content-Type", form, "X-Twilio-Signature", "n2xBNyzSW7rfYStDtOFiFMv7qNo="),
		fixed("twilio", "twilio-go and twilio-php bodySHA256 test (V9)", time.Time{}, []string{"12345"},
			twilioURL+"&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620", `{"property": "value", "boolean": true}`,
			"Content-Type", "application/json", "X-Twilio-Signature", "a9nBmqA0ju/hNViExpshrM61xv4="),
		fixed("twilio", "twilio-python tests, repeated parameters (V10)", time.Time{}, []string{"12345"}, twilioURL,
			twilioForm("Sid", "CA123", "SidAccount", "AC123", "Digits", "5678", "Digits", "1234", "Digits", "1234"),
			"Content-Type", form, "X-Twilio-Signature", "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
		fixed("twilio", "Twilio docs example with the default port in the URL (SDKs try both)", time.Time{}, []string{"12345"}, "https://mycompany.com:443/myapp.php?foo=1&bar=2",
			twilioForm("CallSid", "CA1234567890ABCDE", "Caller", "+12349013030", "Digits", "1234", "From", "+12349013030", "To", "+18005551212"),
			"Content-Type", form, "X-Twilio-Signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
		fixed("square", "square-go-sdk webhooks verify_signature_test.go (V11)", time.Time{}, []string{"Ibxx_5AKakO-3qeNVR61Dw"},
			"https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9", square, "X-Square-Hmacsha256-Signature", "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="),
		fixed("square", "square-go-sdk webhooks verify_signature_test.go, second case", time.Time{}, []string{"signature-key"},
			"https://webhook.site/webhooks", `{"data":{"type":"webhooks","id":"fake_id"}}`, "X-Square-Hmacsha256-Signature", "W3FlCNk5IA3ZQ2LHTWoajvzfaDu/OwY2tNHIHC3IUOA="),
		fixed("paddle", "paddle-node-sdk webhooks-validator.node.test.ts (V13)", time.Unix(1698796800, 0), []string{"VALID_SECRET"}, "https://example.com/hook", `{"data": ["1", "2"]}`,
			"Paddle-Signature", "ts=1698796800;h1=a300428748dce5c70e4da19bffd60769591ea969c99dea3105d0ec9612cf43f9"),
		fixed("paddle", "paddle-node-sdk webhooks-validator.node.test.ts, second body (V13)", time.Unix(1698796800, 0), []string{"VALID_SECRET"}, "https://example.com/hook", `{"data": "value"}`,
			"Paddle-Signature", "ts=1698796800;h1=28981e941fae76e53db32f3d2a83cb69db41476595e84e1970a1b5d98f62b261"),
		fixed("sanity", "sanity-io/webhook-toolkit test/signature.test.ts (V16)", time.UnixMilli(1633519811129), []string{"test"}, "https://example.com/hook", `{"_id":"resume"}`,
			"Sanity-Webhook-Signature", "t=1633519811129,v1=tLa470fx7qkLLEcMOcEUFuBbRSkGujyskxrNXcoh0N0"),
		fixed("sanity", "sanity-io/webhook-toolkit test/signature.test.ts, second (V16)", time.UnixMilli(1633518820676), []string{"try-me"}, "https://example.com/hook", `{"title":"GROQ-Hooks are neat"}`,
			"Sanity-Webhook-Signature", "t=1633518820676,v1=e7C9h2sfbFfc4V7TEz7PSOp4IoNzl0UdVsBV-1wgdeA"),
		fixed("dropbox", "hapi-dropbox-webhooks test (third party, V17)", time.Time{}, []string{"the_secret"}, "https://example.com/hook", `{"delta": {"users": [12345]}}`,
			"X-Dropbox-Signature", "0a8c16b085420b960dc78664279fe09e936a2a01b1f91064869d9e77dfd64529"),
	}
	// @hubspot/api-client 14.0.1 lib/test/unit/signature.spec.js
	hubspotSecret := []string{"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"}
	hubspotV2GET := fixed("hubspot", "@hubspot/api-client 14.0.1 signature.spec.js, Validates v2", time.Time{}, hubspotSecret,
		"https://www.example.com/webhook_uri", "", "X-HubSpot-Signature-Version", "v2",
		"X-HubSpot-Signature", "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e")
	hubspotV2GET.Method = "GET"
	cases = append(cases, hubspotV2GET,
		fixed("hubspot", "@hubspot/api-client 14.0.1 signature.spec.js, Validates v1", time.Time{}, hubspotSecret, "https://example.com/hook",
			`[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]`,
			"X-HubSpot-Signature-Version", "v1", "X-HubSpot-Signature", "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"),
		fixed("hubspot", "@hubspot/api-client 14.0.1 signature.spec.js, Validates v2 with body", time.Time{}, hubspotSecret, "https://www.example.com/webhook_uri",
			`{"example_field":"example_value"}`, "X-HubSpot-Signature-Version", "v2",
			"X-HubSpot-Signature", "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"),
	)
	sg := fixed("sendgrid", "sendgrid-go eventwebhook_test.go (V14)", time.Unix(1588788367, 0), nil, "https://example.com/hook", sendgridBody,
		"X-Twilio-Email-Event-Webhook-Timestamp", "1588788367",
		"X-Twilio-Email-Event-Webhook-Signature", "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=")
	sg.PublicKeys = []string{sendgridPublic}
	cases = append(cases, sg)

	// providers.md §4.2, one per scheme family.
	derived := "providers.md §4.2 derived vector"
	for _, c := range []struct {
		provider string
		headers  []string
	}{
		{"github", []string{"X-Hub-Signature-256", "sha256=c99dcd69e2f455a559a87dcb03ec937afb162c4907f8a198fff25e657028060d"}},
		{"bitbucket", []string{"X-Hub-Signature", "sha256=c99dcd69e2f455a559a87dcb03ec937afb162c4907f8a198fff25e657028060d"}},
		{"meta", []string{"X-Hub-Signature-256", "sha256=c99dcd69e2f455a559a87dcb03ec937afb162c4907f8a198fff25e657028060d"}},
		{"jira", []string{"X-Hub-Signature", "sha256=c99dcd69e2f455a559a87dcb03ec937afb162c4907f8a198fff25e657028060d"}},
		{"pagerduty", []string{"X-PagerDuty-Signature", "v1=c99dcd69e2f455a559a87dcb03ec937afb162c4907f8a198fff25e657028060d"}},
		{"gitea", []string{"X-Gitea-Signature", "c99dcd69e2f455a559a87dcb03ec937afb162c4907f8a198fff25e657028060d"}},
		{"lemonsqueezy", []string{"X-Signature", "c99dcd69e2f455a559a87dcb03ec937afb162c4907f8a198fff25e657028060d"}},
		{"razorpay", []string{"X-Razorpay-Signature", "c99dcd69e2f455a559a87dcb03ec937afb162c4907f8a198fff25e657028060d"}},
		{"sentry", []string{"Sentry-Hook-Signature", "c99dcd69e2f455a559a87dcb03ec937afb162c4907f8a198fff25e657028060d"}},
		{"alchemy", []string{"X-Alchemy-Signature", "c99dcd69e2f455a559a87dcb03ec937afb162c4907f8a198fff25e657028060d"}},
		{"coinbase", []string{"X-CC-Webhook-Signature", "c99dcd69e2f455a559a87dcb03ec937afb162c4907f8a198fff25e657028060d"}},
		{"dropbox", []string{"X-Dropbox-Signature", "c99dcd69e2f455a559a87dcb03ec937afb162c4907f8a198fff25e657028060d"}},
		{"github", []string{"X-Hub-Signature", "sha1=52d008f981a31c0a7aceb0aa9d874cad9e3bf3da"}},
		{"intercom", []string{"X-Hub-Signature", "sha1=52d008f981a31c0a7aceb0aa9d874cad9e3bf3da"}},
		{"vercel", []string{"X-Vercel-Signature", "52d008f981a31c0a7aceb0aa9d874cad9e3bf3da"}},
		{"segment", []string{"X-Signature", "52d008f981a31c0a7aceb0aa9d874cad9e3bf3da"}},
		{"shopify", []string{"X-Shopify-Hmac-Sha256", "yZ3NaeL0VaVZqH3LA+yTevsWLEkH+KGY//JeZXAoBg0="}},
		{"xero", []string{"X-Xero-Signature", "yZ3NaeL0VaVZqH3LA+yTevsWLEkH+KGY//JeZXAoBg0="}},
		{"woocommerce", []string{"X-WC-Webhook-Signature", "yZ3NaeL0VaVZqH3LA+yTevsWLEkH+KGY//JeZXAoBg0="}},
		{"docusign", []string{"X-DocuSign-Signature-1", "yZ3NaeL0VaVZqH3LA+yTevsWLEkH+KGY//JeZXAoBg0="}},
		{"typeform", []string{"Typeform-Signature", "sha256=yZ3NaeL0VaVZqH3LA+yTevsWLEkH+KGY//JeZXAoBg0="}},
		{"stripe", []string{"Stripe-Signature", "t=1700000000,v1=4c37aa57e00dc0b77c9d05fb2e7eef4029eaa8704fb4d1565722b3756924a01d"}},
		{"mux", []string{"Mux-Signature", "t=1700000000,v1=4c37aa57e00dc0b77c9d05fb2e7eef4029eaa8704fb4d1565722b3756924a01d"}},
		{"calendly", []string{"Calendly-Webhook-Signature", "t=1700000000,v1=4c37aa57e00dc0b77c9d05fb2e7eef4029eaa8704fb4d1565722b3756924a01d"}},
		{"slack", []string{"X-Slack-Request-Timestamp", "1700000000", "X-Slack-Signature", "v0=648168589f1a2dc2b5c682268f07236da81ee1230d357405d1773400763dd7ee"}},
		{"zoom", []string{"X-Zm-Request-Timestamp", "1700000000", "X-Zm-Signature", "v0=648168589f1a2dc2b5c682268f07236da81ee1230d357405d1773400763dd7ee"}},
		{"paddle", []string{"Paddle-Signature", "ts=1700000000;h1=2c97f1df03905ab228f5f9c747b7bb78d2130f2e7caf840c7f628d1e51ac0b76"}},
		{"terraform", []string{"X-TFE-Notification-Signature", "a3dc5bb5c223f901bba6feb0f1a1b2affc15da5f86a30820693c8f4f90555b21135a4ac84341a9c0b789e5221730c8d7e07db1eb7d29e46a229048ec50be88a1"}},
		{"twitch", []string{"Twitch-Eventsub-Message-Id", "msg-1", "Twitch-Eventsub-Message-Timestamp", "2023-11-14T22:13:20.123456789Z",
			"Twitch-Eventsub-Message-Signature", "sha256=d8574de87cdf05404f1aa5961cbd0667ee9d20bb73a3ca65901340d3a5b0bd3a"}},
		{"box", []string{"Box-Delivery-Timestamp", "2023-11-14T22:13:20+00:00", "Box-Signature-Primary", "fX2N4zduzCjw0jfFZdjvhgQ4x7zM5iPz4QW8PZ6V4g8=",
			"Box-Signature-Version", "1", "Box-Signature-Algorithm", "HmacSHA256"}},
		{"sanity", []string{"Sanity-Webhook-Signature", "t=1700000000000,v1=DY6TVagbGt1D7S069x-SQsmnAC7mKd0UTZnB8-n7z8c"}},
		{"netlify", []string{"X-Webhook-Signature", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJuZXRsaWZ5Iiwic2hhMjU2IjoiNDA5OTNjNjM5ZmZiNWYxM2EwYTJlZjVjOTNjOTY1ZjEwYjQwNWYyYjg3YTM3OTI3MjM4MWRhMmRiYzE1OGRmYSJ9.74ydCyWWoaKv4p1DEBMw7UGDwzq8bFQis4H2acVrsP8"}},
	} {
		cases = append(cases, fixed(c.provider, derived, dNow, []string{dSecret}, "https://example.com/hook", dBody, c.headers...))
	}
	cases = append(cases,
		fixed("hubspot", derived, dNow, []string{dSecret}, "https://example.com/hook", dBody,
			"X-HubSpot-Request-Timestamp", "1700000000000", "X-HubSpot-Signature-v3", "HJ+jstj+6ptBj3HR3k1L4V/GIL8jGM7EwLZe+A/BWOY="),
		fixed("square", derived, dNow, []string{dSecret}, "https://example.com/hook", dBody,
			"X-Square-Hmacsha256-Signature", "NuWAVs2AszRKmXizutz6cvnazpKAtXi0W76ShEOlsZU="),
		fixed("standard", derived, dNow, []string{whsecOther}, "https://example.com/hook", dBody,
			"Webhook-Id", "msg_1", "Webhook-Timestamp", "1700000000", "Webhook-Signature", "v1,FJo2GdkyWLYd9ym3CZNosbU6mHVAi628L4/8uNI3qNM="),
		fixed("mailgun", derived, dNow, []string{dSecret}, "https://example.com/hook",
			`{"signature":{"timestamp":"1700000000","token":"tok123","signature":"525199ae40d4aeff6c52cc7bb9269cac1540813e7aae9a35d2477d1d70b1dcf1"},"event-data":{"event":"opened"}}`,
			"Content-Type", "application/json"),
	)
	discord := fixed("discord", derived, dNow, nil, "https://example.com/hook", dBody,
		"X-Signature-Timestamp", "1700000000",
		"X-Signature-Ed25519", "ae521e554cd01e2e73bf6c8a10240a5d6201005939d9325796c576a887c22ae0817ada33a429fe4b40266d2a5103ddca758d22c70cb6f0351c2a207ec53fe307")
	discord.PublicKeys = []string{"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"}
	cases = append(cases, discord)
	cases = append(cases, ngrokPublished()...)
	cases = append(cases, SDK()...)
	for i := range cases {
		if cases[i].Now.IsZero() {
			cases[i].Now = dNow
		}
	}
	return cases
}
