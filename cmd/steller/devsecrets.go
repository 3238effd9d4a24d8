package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/control-plane/account"
)

// devSecrets are the credentials `steller dev` makes on its first run and keeps in the
// data dir, so every later run prints the same ones: the edge token between the local
// control plane and gateway, the edge signing secret between the gateway and its
// upstreams, a demo partner (signed up like any partner, with its sandbox key) and a
// platform admin. Local development only.
type devSecrets struct {
	path          string
	EdgeToken     string `json:"edge_token"`
	EdgeSigning   string `json:"edge_signing_secret"`
	DemoEmail     string `json:"demo_email"`
	DemoPassword  string `json:"demo_password"`
	SandboxKey    string `json:"sandbox_key"`
	AdminEmail    string `json:"admin_email"`
	AdminPassword string `json:"admin_password"`
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// loadDevSecrets reads the secrets file, or starts new secrets when there is none.
func loadDevSecrets(path string) (*devSecrets, error) {
	s := &devSecrets{path: path}
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.EdgeToken = "dev-edge-" + randomHex(16)
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(raw, s); err != nil {
			return nil, fmt.Errorf("%s: %w (delete it to start over)", path, err)
		}
	}
	if s.EdgeSigning == "" { // new, or a data dir from before edge signing
		if s.EdgeSigning, err = edgesign.GenerateSecret(); err != nil {
			return nil, err
		}
		if s.SandboxKey != "" {
			return s, s.save()
		}
	}
	return s, nil
}

func (s *devSecrets) save() error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(s.path, raw, 0o600)
}

// ensureAccounts signs the demo partner up and creates the admin on the first run, then
// writes the file; later runs find them in it.
func (s *devSecrets) ensureAccounts(ctx context.Context, cp *controlPlane) error {
	if s.SandboxKey != "" {
		return nil
	}
	s.DemoEmail, s.DemoPassword = "demo@partner.example", "Sandbox-"+randomHex(8)
	res, err := cp.api.Accounts().Signup(ctx, account.SignupRequest{
		Company: "Demo Partner", Name: "Demo Developer", Email: s.DemoEmail, Password: s.DemoPassword,
	})
	if err != nil {
		return fmt.Errorf("dev: sign up the demo partner: %w", err)
	}
	s.SandboxKey = res.KeySecret
	s.AdminEmail, s.AdminPassword = "admin@steller.example", "Platform-"+randomHex(8)
	if _, err := account.CreateAdmin(ctx, cp.pool, s.AdminEmail, "Local Admin", s.AdminPassword); err != nil {
		return fmt.Errorf("dev: create the admin: %w", err)
	}
	return s.save()
}
