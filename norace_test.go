//go:build !race

package webhookverify

const raceEnabled = false
