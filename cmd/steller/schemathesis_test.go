package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// schemathesisRun bounds one schemathesis run; a run that outlasts it fails the test.
const schemathesisRun = 4 * time.Minute

// schemathesisSeed makes the runs reproducible; STELLER_SCHEMATHESIS_SEED picks another
// (schemathesis prints the seed of every run).
const schemathesisSeed = "20261202"

// TestAPIsKeepTheirOpenAPIPromises runs schemathesis (pinned in scripts/python, installed by
// scripts/install.sh python) with every check against a running `steller dev`: the partner
// API through the gateway with the sandbox key, and the control plane with a partner
// session and with a platform-admin session. No server error, no response outside its
// schema, no undocumented status, no schema-violating input accepted, and no schema-valid
// input refused except where scripts/schemathesis/*.toml allowlists it with its reason.
func TestAPIsKeepTheirOpenAPIPromises(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	st := filepath.Join(root, ".cache/venv/bin/schemathesis")
	_, err = os.Stat(st)
	require.NoError(t, err, "schemathesis is missing: run `bash scripts/install.sh python` (make test does)")

	bin := buildSteller(t)
	dataDir, _ := devDataDir(t)
	run := startDev(t, bin, dataDir, 800)
	t.Cleanup(func() { run.stop(t) })

	// Both sessions first: the fuzzed sign-in operations soon meet the per-address limit.
	partner := login(t, run.controlPlane+"/v1/auth/login", run.demoEmail, run.demoPassword)
	admin := login(t, run.controlPlane+"/v1/admin/auth/login", run.adminEmail, run.adminPassword)
	require.Eventually(t, func() bool { // the sandbox key reaches the edge by edge sync
		req, _ := http.NewRequest(http.MethodGet, run.gateway+"/v1/catalog", nil)
		req.Header.Set("Authorization", "Bearer "+run.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 15*time.Second, 100*time.Millisecond, "the sandbox key never worked at the gateway")

	seed := schemathesisSeed
	if s := os.Getenv("STELLER_SCHEMATHESIS_SEED"); s != "" {
		seed = s
	}
	config := func(name string) string { return filepath.Join(root, "scripts/schemathesis", name) }
	cases := []struct {
		name, config, schema, url, token string
		examples                         string
		extra                            []string
	}{
		{"partner API through the gateway", config("partner.toml"), run.controlPlane + "/openapi/partner.json", run.gateway, run.key, "100", nil},
		{"control plane as a partner", config("control-plane.toml"), run.controlPlane + "/openapi.json", run.controlPlane, partner, "40",
			[]string{"--exclude-path", "/v1/auth/logout"}},
		{"admin API as a platform admin", config("control-plane.toml"), run.controlPlane + "/openapi/admin.json", run.controlPlane, admin, "40", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), schemathesisRun)
			defer cancel()
			args := append([]string{"--no-color", "--config-file", c.config, "run", c.schema, "--url", c.url,
				"--header", "Authorization: Bearer " + c.token, "--phases", "examples,coverage,fuzzing",
				"--max-examples", c.examples, "--seed", seed}, c.extra...)
			cmd := exec.CommandContext(ctx, st, args...)
			cmd.Dir = t.TempDir() // schemathesis writes its cache into the working directory
			out, err := cmd.CombinedOutput()
			require.NoError(t, ctx.Err(), "schemathesis outlasted %s:\n%s", schemathesisRun, out)
			require.NoError(t, err, "schemathesis found broken promises:\n%s", out)
			summary := string(out)
			if i := strings.LastIndex(summary, "SUMMARY"); i >= 0 {
				summary = summary[i:]
			}
			t.Logf("schemathesis %s:\n%s", c.name, summary)
		})
	}
}

// login signs in at url and returns the session token.
func login(t *testing.T, url, email, password string) string {
	t.Helper()
	var out struct {
		Session struct {
			Token string `json:"token"`
		} `json:"session"`
	}
	status := call(t, http.MethodPost, url, "", map[string]string{"email": email, "password": password}, &out)
	require.Equal(t, http.StatusOK, status, "sign in at %s", url)
	require.NotEmpty(t, out.Session.Token)
	return out.Session.Token
}
