package webhook_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/webhook"
)

// samplesDir holds the webhooks guide's verification samples; the portal embeds them in
// the guide (control-plane/portal/guides/webhooks.md), so the code shown is the code run here.
const samplesDir = "../portal/guides/samples/webhooks"

// captured is one request as the delivery worker sent it.
type captured struct {
	header http.Header
	body   []byte
}

// with returns a copy of d with header name set to value ("" deletes it).
func (d captured) with(name, value string) captured {
	h := d.header.Clone()
	h.Del(name)
	if value != "" {
		h.Set(name, value)
	}
	return captured{header: h, body: d.body}
}

// resigned returns d signed by the real signer at another time.
func (d captured) resigned(t *testing.T, at time.Time, secrets ...string) captured {
	t.Helper()
	h, err := webhook.Sign(d.header.Get("webhook-id"), at, d.body, secrets...)
	require.NoError(t, err)
	return d.with("webhook-timestamp", h.Timestamp).with("webhook-signature", h.Signature)
}

// newCapture is a webhook endpoint that hands every request it gets to the returned
// channel and answers 204.
func newCapture(t *testing.T) (*httptest.Server, <-chan captured) {
	t.Helper()
	got := make(chan captured, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- captured{header: r.Header.Clone(), body: body}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func next(t *testing.T, got <-chan captured, what string) captured {
	t.Helper()
	select {
	case d := <-got:
		return d
	case <-time.After(20 * time.Second):
		require.FailNow(t, "no request arrived", what)
		return captured{}
	}
}

// tool is the path of a program the samples need; a missing one fails the test.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	require.NoError(t, err, "%s is needed to run the webhooks guide's samples: bash scripts/install.sh tools installs it", name)
	return p
}

// startReceiver runs a sample receiver with secret and returns its URL, once it has said
// which port it listens on; the process is killed when the test ends.
func startReceiver(t *testing.T, secret string, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = samplesDir
	cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret, "PORT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start(), "start %v", argv)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, out)
	}()
	// stderr is read only once the process is gone (the exec package writes it until then).
	failed := func(format string, args ...any) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		require.FailNow(t, fmt.Sprintf(format, args...), "stderr: %s", stderr.String())
	}
	select {
	case line := <-lines:
		port, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on :")
		if !ok {
			failed("%v printed %q, not its port", argv, line)
		}
		return "http://127.0.0.1:" + port + "/webhooks"
	case <-time.After(60 * time.Second):
		failed("%v never said its port", argv)
		return ""
	}
}

// verifier says whether one sample, holding one secret, accepts a request, and why not.
type verifier func(t *testing.T, d captured) (bool, string)

// receiverAt posts d to a sample receiver: 204 accepts, 401 rejects.
func receiverAt(url string) verifier {
	return func(t *testing.T, d captured) (bool, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.body))
		require.NoError(t, err)
		req.Header = d.header.Clone()
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		why, _ := io.ReadAll(resp.Body)
		require.Contains(t, []int{http.StatusNoContent, http.StatusUnauthorized}, resp.StatusCode, "answer: %s", why)
		return resp.StatusCode == http.StatusNoContent, string(why)
	}
}

// verifyScript runs verify.sh on d: exit 0 accepts, 1 rejects.
func verifyScript(bash, secret string) verifier {
	return func(t *testing.T, d captured) (bool, string) {
		t.Helper()
		cmd := exec.Command(bash, "verify.sh", d.header.Get("webhook-id"), d.header.Get("webhook-timestamp"), d.header.Get("webhook-signature"))
		cmd.Dir = samplesDir
		cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret)
		cmd.Stdin = bytes.NewReader(d.body)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 1 && strings.HasPrefix(string(out), "rejected: ") {
			return false, string(out)
		}
		require.NoError(t, err, "verify.sh: %s", out)
		require.Equal(t, "accepted\n", string(out))
		return true, ""
	}
}

// Each sample of the webhooks guide verifies real deliveries of the delivery worker: it
// accepts them as sent, with either secret during a rotation, and rejects a changed
// body, signature or secret and a timestamp out of the five minutes' tolerance.
func TestTheGuideSamplesVerifyRealDeliveries(t *testing.T) {
	t.Parallel()
	goTool, python, node, bash := tool(t, "go"), tool(t, "python3"), tool(t, "node"), tool(t, "bash")
	tool(t, "openssl")
	tool(t, "curl")
	bin := filepath.Join(t.TempDir(), "verify")
	build := exec.Command(goTool, "build", "-o", bin, "verify.go")
	build.Dir = samplesDir
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build verify.go: %s", out)

	// The worker signs with its clock: first six minutes behind, for a stale delivery.
	e := setup(t, options{clockStart: time.Now().Add(-6 * time.Minute).Truncate(time.Second)})
	capture, got := newCapture(t)
	ep := e.createEndpoint(t, capture.URL+"/webhooks", "order.completed")
	oldSecret := ep.Secret

	require.Equal(t, 1, e.send(t, "evt_stale", "order.completed"))
	stale := next(t, got, "the stale delivery")
	require.Equal(t, strconv.FormatInt(e.clock.Now().Unix(), 10), stale.header.Get("webhook-timestamp"))
	e.clock.Advance(6 * time.Minute)
	require.Equal(t, 1, e.send(t, "evt_fresh", "order.completed"))
	fresh := next(t, got, "the fresh delivery")
	require.Equal(t, "evt_fresh", fresh.header.Get("webhook-id"))
	require.Len(t, strings.Fields(fresh.header.Get("webhook-signature")), 1)

	rot := e.api.Post("/v1/webhooks/endpoints/"+ep.ID+"/rotate-secret", e.as, map[string]any{"overlap": "1h"})
	require.Equal(t, http.StatusOK, rot.Code, rot.Body.String())
	newSecret := decode[webhook.RotatedSecret](t, rot).Secret
	require.Equal(t, 1, e.send(t, "evt_rotated", "order.completed"))
	rotated := next(t, got, "the delivery during the rotation")
	require.Len(t, strings.Fields(rotated.header.Get("webhook-signature")), 2, "one signature per secret")

	require.Contains(t, string(fresh.body), `"amount_cents":2500`)
	changedBody := captured{header: fresh.header, body: bytes.Replace(fresh.body, []byte(`"amount_cents":2500`), []byte(`"amount_cents":9500`), 1)}
	sig := fresh.header.Get("webhook-signature")
	flipped := []byte(sig)
	if flipped[len("v1,")] == 'A' { // another base64 digit
		flipped[len("v1,")] = 'B'
	} else {
		flipped[len("v1,")] = 'A'
	}
	stranger := "whsec_" + strings.Repeat("QUJD", 8)

	cases := []struct {
		name     string
		d        captured
		old, new bool // accepted by a receiver holding the old secret, the new one
	}{
		{"the delivery as sent", fresh, true, false},
		{"the delivery during the rotation", rotated, true, true},
		{"the body changed", changedBody, false, false},
		{"a byte of the signature changed", fresh.with("webhook-signature", string(flipped)), false, false},
		{"the signature under another version", fresh.with("webhook-signature", "v2"+sig[2:]), false, false},
		{"no signature", fresh.with("webhook-signature", ""), false, false},
		{"the webhook-id changed", fresh.with("webhook-id", "evt_other"), false, false},
		{"signed with another secret", fresh.resigned(t, time.Now(), stranger), false, false},
		{"six minutes old", stale, false, false},
		{"re-signed four minutes ago", fresh.resigned(t, time.Now().Add(-4*time.Minute), oldSecret), true, false},
		{"re-signed six minutes ahead", fresh.resigned(t, time.Now().Add(6*time.Minute), oldSecret), false, false},
	}
	receivers := map[string][]string{"verify.go": {bin}, "verify.py": {python, "verify.py"}, "verify.js": {node, "verify.js"}}
	oldURL, newURL := map[string]string{}, map[string]string{}
	for name, argv := range receivers {
		oldURL[name], newURL[name] = startReceiver(t, oldSecret, argv...), startReceiver(t, newSecret, argv...)
	}
	samples := []struct {
		name     string
		old, new verifier
	}{
		{"verify.go", receiverAt(oldURL["verify.go"]), receiverAt(newURL["verify.go"])},
		{"verify.py", receiverAt(oldURL["verify.py"]), receiverAt(newURL["verify.py"])},
		{"verify.js", receiverAt(oldURL["verify.js"]), receiverAt(newURL["verify.js"])},
		{"verify.sh", verifyScript(bash, oldSecret), verifyScript(bash, newSecret)},
	}
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			for _, c := range cases {
				ok, why := s.old(t, c.d)
				assert.Equal(t, c.old, ok, "%s, old secret: %s", c.name, why)
				ok, why = s.new(t, c.d)
				assert.Equal(t, c.new, ok, "%s, new secret: %s", c.name, why)
			}
		})
	}

	// send.sh signs as the worker does: its request carries the body it was given, byte
	// for byte, under the signature the worker's signer makes, and every receiver accepts it.
	bodyFile := filepath.Join(t.TempDir(), "body.json")
	require.NoError(t, os.WriteFile(bodyFile, fresh.body, 0o600))
	send := func(t *testing.T, url, secret string) string {
		t.Helper()
		cmd := exec.Command(bash, "send.sh", url, bodyFile)
		cmd.Dir = samplesDir
		cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "send.sh: %s", out)
		return strings.TrimSpace(string(out))
	}
	t.Run("send.sh", func(t *testing.T) {
		require.Equal(t, "204", send(t, capture.URL+"/webhooks", oldSecret))
		sent := next(t, got, "send.sh's request")
		assert.Equal(t, fresh.body, sent.body)
		ts, err := strconv.ParseInt(sent.header.Get("webhook-timestamp"), 10, 64)
		require.NoError(t, err)
		want, err := webhook.Sign(sent.header.Get("webhook-id"), time.Unix(ts, 0), fresh.body, oldSecret)
		require.NoError(t, err)
		assert.Equal(t, want.Signature, sent.header.Get("webhook-signature"))
		assert.Equal(t, "application/json", sent.header.Get("Content-Type"))
		for name := range receivers {
			assert.Equal(t, "204", send(t, oldURL[name], oldSecret), "%s accepts it", name)
			assert.Equal(t, "401", send(t, newURL[name], oldSecret), "%s, on the new secret, refuses the old one", name)
		}
	})
}
