// Package browsertest starts a real headless Chromium (Debian's chromium
// package) for tests that drive a page, with chromedp.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium finds the browser: $CHROMIUM, or Debian's chromium on PATH.
// Its absence fails the test: CI installs it (apt-get install chromium).
func Chromium(t testing.TB) string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: apt-get install -y chromium (or set CHROMIUM)")
	return ""
}

// Start starts a headless Chromium and returns a context for it, closed
// when the test ends. The flags keep it off the network it would
// otherwise call home on (this machine's network is closed).
func Start(t testing.TB) context.Context {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 820),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// the first run starts the browser, for as long as ctx lives: no
	// timeout on it, each step has its own
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", Chromium(t), err)
	}
	return ctx
}

// Within runs steps with a deadline of d.
func Within(ctx context.Context, d time.Duration, steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// Step is the deadline of steps that wait for nothing in particular.
const Step = 30 * time.Second

// Run runs an action that returns a value, with the Step deadline.
func Run[T any](ctx context.Context, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, Step)
	defer cancel()
	return chromedp.Run(ctx, a)
}
