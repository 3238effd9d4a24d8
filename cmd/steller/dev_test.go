package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/internal/localstack"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildSteller compiles this command into a temporary directory.
func buildSteller(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "steller")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

var controlPlaneLine = regexp.MustCompile(`Control plane\s+(http://\S+)\s+\(health \S+; operations (http://\S+)/readyz`)
var gatewayLine = regexp.MustCompile(`Gateway\s+(http://\S+)\s+\(health (http://\S+)/healthz`)
var keyLine = regexp.MustCompile(`Sandbox key\s+(sk_test_\S+)`)
var demoLine = regexp.MustCompile(`Demo partner\s+(\S+) / (\S+)`)
var adminLine = regexp.MustCompile(`Platform admin\s+(\S+) / (\S+)`)
var clickhouseLine = regexp.MustCompile(`ClickHouse\s+(\S+) \(native\)`)
var postgresLine = regexp.MustCompile(`PostgreSQL\s+(postgres://\S+)`)
var sandboxLine = regexp.MustCompile(`Sandbox vendor\s+(http://\S+)`)
var liveVendorLine = regexp.MustCompile(`Live vendor\s+(http://\S+)`)
var kafkaLine = regexp.MustCompile(`Kafka\s+\[([^\]]+)\]`)

type devRun struct {
	cmd           *exec.Cmd
	controlPlane  string
	controlOps    string
	gateway       string
	gatewayOps    string
	sandbox       string
	liveVendor    string
	kafka         []string
	key           string
	demoEmail     string
	demoPassword  string
	adminEmail    string
	adminPassword string
	clickhouse    string
	postgres      string
	output        *strings.Builder
}

// devDataDir returns a data dir for steller dev that nobody else may enter, as a clone
// under root's mode-700 home, and where PostgreSQL keeps its data for it: when the tests
// run as root, PostgreSQL runs as the postgres user, who cannot enter the dir, so the data
// goes elsewhere (localstack.PostgresDataDir), removed after the test.
func devDataDir(t *testing.T) (dataDir, pgDir string) {
	t.Helper()
	dataDir = t.TempDir()
	require.NoError(t, os.Chmod(dataDir, 0o700))
	pgDir = localstack.PostgresDataDir(dataDir)
	if pgDir != filepath.Join(dataDir, "postgres") {
		t.Cleanup(func() { _ = os.RemoveAll(pgDir) })
	}
	return dataDir, pgDir
}

// testPortOffset is base plus STELLER_PORT_OFFSET (0 when unset): each test that starts
// servers of its own has a base apart from the others', and a whole second run of the
// tests moves by the same amount.
func testPortOffset(t *testing.T, base int) int {
	t.Helper()
	v := os.Getenv("STELLER_PORT_OFFSET")
	if v == "" {
		return base
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "STELLER_PORT_OFFSET")
	return base + n
}

// startDev runs `steller dev` on its own data dir and ports (its servers' ports moved by
// portOffset, so two tests' instances do not meet) and waits for its banner.
// STELLER_PORT_OFFSET, when set, is added to portOffset (testPortOffset), so a second run of
// the tests beside another's stacks moves all of its instances together, still apart.
func startDev(t *testing.T, bin, dataDir string, portOffset int) *devRun {
	t.Helper()
	portOffset = testPortOffset(t, portOffset)
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir, "--port-offset", strconv.Itoa(portOffset),
		"--control-plane-addr", "127.0.0.1:0", "--control-plane-ops-addr", "127.0.0.1:0", "--gateway-addr", "127.0.0.1:0", "--gateway-ops-addr", "127.0.0.1:0",
		"--ingest-addr", "127.0.0.1:0", "--sandbox-addr", "127.0.0.1:0", "--sandbox-completion-delay", "300ms",
		"--live-vendor-addr", "127.0.0.1:0", "--live-vendor-completion-delay", "300ms")
	cmd.Env = append(os.Environ(), "STELLER_KAFKA_BROKERS=", "KAFKA_BROKERS=")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var logs strings.Builder
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	run := &devRun{cmd: cmd, output: &logs}
	found, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if m := postgresLine.FindStringSubmatch(line); m != nil {
				run.postgres = m[1]
			}
			if m := controlPlaneLine.FindStringSubmatch(line); m != nil {
				run.controlPlane, run.controlOps = m[1], m[2]
			}
			if m := gatewayLine.FindStringSubmatch(line); m != nil {
				run.gateway, run.gatewayOps = m[1], m[2]
			}
			if m := sandboxLine.FindStringSubmatch(line); m != nil {
				run.sandbox = m[1]
			}
			if m := liveVendorLine.FindStringSubmatch(line); m != nil {
				run.liveVendor = m[1]
			}
			if m := kafkaLine.FindStringSubmatch(line); m != nil {
				run.kafka = strings.Fields(m[1])
			}
			if m := keyLine.FindStringSubmatch(line); m != nil {
				run.key = m[1]
			}
			if m := clickhouseLine.FindStringSubmatch(line); m != nil {
				run.clickhouse = m[1]
			}
			if m := demoLine.FindStringSubmatch(line); m != nil {
				run.demoEmail, run.demoPassword = m[1], m[2]
			}
			if m := adminLine.FindStringSubmatch(line); m != nil {
				run.adminEmail, run.adminPassword = m[1], m[2]
			}
			if strings.Contains(line, "curl") && run.controlPlane != "" {
				close(found)
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
	}()
	select {
	case <-found:
	case <-ended:
		_ = cmd.Wait()
		t.Fatalf("steller dev exited before its banner; logs:\n%s", logs.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("steller dev printed no banner within 90 s; logs:\n%s", logs.String())
	}
	return run
}

// stop sends SIGINT as Ctrl-C would and waits for a clean exit.
func (r *devRun) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "steller dev did not exit cleanly; logs:\n%s", r.output.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("steller dev still running 60 s after SIGINT; logs:\n%s", r.output.String())
	}
}

// processesUsing lists the pids whose command line names dir.
func processesUsing(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestDevComesUpServesHealthAndLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	bin := buildSteller(t)
	dataDir, pgDir := devDataDir(t)

	first := startDev(t, bin, dataDir, 700)
	resp, err := http.Get(first.controlPlane + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// Ready once every dependency answers: the edge sync listener connects just after start.
	var ready struct {
		Status string
		Checks []struct {
			Name string
			OK   bool
		}
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get(first.controlOps + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&ready) == nil && resp.StatusCode == http.StatusOK
	}, 15*time.Second, 100*time.Millisecond, "control plane not ready: %+v", &ready)
	assert.Len(t, ready.Checks, 4)
	// Readiness detail and metrics are for operators: not on the API's address.
	for _, path := range []string{"/readyz", "/metrics"} {
		resp, err := http.Get(first.controlPlane + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the API address serves %s", path)
	}
	resp, err = http.Get(first.controlOps + "/metrics")
	require.NoError(t, err)
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(metrics), `steller_http_requests_total{code="200",method="get",service="control-plane"}`)

	// The banner's curl: the sandbox key through the gateway reaches the sandbox vendor.
	req, err := http.NewRequest(http.MethodGet, first.gateway+"/v1/catalog", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+first.key)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	var catalog struct {
		Products []struct {
			ID string `json:"id"`
		} `json:"products"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&catalog))
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotEmpty(t, catalog.Products)

	// The same request with the identity headers forged, straight to the sandbox vendor,
	// is refused: only the gateway's signature makes them a partner's.
	require.NotEmpty(t, first.sandbox, "the banner names the sandbox vendor")
	forged, err := http.NewRequest(http.MethodGet, first.sandbox+"/v1/balance", nil)
	require.NoError(t, err)
	for h, v := range map[string]string{"X-Steller-Partner-Id": "ptr_forged", "X-Steller-Workspace-Id": "ws_forged", "X-Steller-Environment": "test", "X-Steller-Key-Id": "key_forged"} {
		forged.Header.Set(h, v)
	}
	resp, err = http.DefaultClient.Do(forged)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(raw))
	assert.Contains(t, string(raw), `"code":"edge_signature_missing"`)

	journeySecrets := firstCallJourney(t, first)

	resp, err = http.Get(first.gateway + "/v1/catalog")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a request without a key passed the gateway")
	require.Eventually(t, func() bool {
		resp, err := http.Get(first.gatewayOps + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 15*time.Second, 100*time.Millisecond, "gateway not ready")

	// The demo partner signs in to the control plane and sees its workspace.
	login, err := http.Post(first.controlPlane+"/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"`+first.demoEmail+`","password":"`+first.demoPassword+`"}`))
	require.NoError(t, err)
	var session struct {
		Session struct {
			Token string `json:"token"`
		} `json:"session"`
	}
	require.NoError(t, json.NewDecoder(login.Body).Decode(&session))
	login.Body.Close()
	require.Equal(t, http.StatusOK, login.StatusCode)
	me, err := http.NewRequest(http.MethodGet, first.controlPlane+"/v1/me", nil)
	require.NoError(t, err)
	me.Header.Set("Authorization", "Bearer "+session.Session.Token)
	resp, err = http.DefaultClient.Do(me)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// Leave a mark in the database to find on the second run.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, first.postgres)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE TABLE dev_mark (note text); INSERT INTO dev_mark VALUES ('kept')`)
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))

	first.stop(t)
	assert.Empty(t, append(processesUsing(t, dataDir), processesUsing(t, pgDir)...), "processes left behind after Ctrl-C")
	var devSecrets struct {
		EdgeToken     string `json:"edge_token"`
		EdgeSigning   string `json:"edge_signing_secret"`
		AdminPassword string `json:"admin_password"`
	}
	raw, err = os.ReadFile(filepath.Join(dataDir, "dev-secrets.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &devSecrets))
	assertNoSecretsLogged(t, dataDir, first.output.String(), append(journeySecrets, session.Session.Token,
		first.demoPassword, devSecrets.EdgeToken, devSecrets.EdgeSigning, devSecrets.AdminPassword)...)
	assert.True(t, strings.HasPrefix(devSecrets.EdgeSigning, "esig_"), "steller dev keeps its edge signing secret")

	second := startDev(t, bin, dataDir, 700)
	conn, err = pgx.Connect(ctx, second.postgres)
	require.NoError(t, err)
	var note string
	require.NoError(t, conn.QueryRow(ctx, `SELECT note FROM dev_mark`).Scan(&note))
	assert.Equal(t, "kept", note, "the second run did not reuse the data")
	assert.Equal(t, first.key, second.key, "the second run made a new sandbox key")
	require.NoError(t, conn.Close(ctx))
	second.stop(t)
	assert.Empty(t, append(processesUsing(t, dataDir), processesUsing(t, pgDir)...), "processes left behind after Ctrl-C")
}
