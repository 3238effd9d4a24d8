package kongstandin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
)

// Info is what a plugin server reports about its plugin with -dump.
type Info struct {
	// Name is the plugin name; go-pdk takes it from the binary's file name.
	Name string
	// Version is the version string the plugin passed to server.StartServer.
	Version string
	// Priority is the plugin's priority among Kong's plugins.
	Priority int
	// Phases are the phases the plugin handles ("access", "log", ...).
	Phases []string
	// Schema is the plugin's Kong schema; its "config" field describes the plugin config.
	Schema Schema
	// Protocol is the wire protocol the server speaks ("ProtoBuf:1" for go-pdk).
	Protocol string
	// SocketPath is where the server says it listens for the prefix it was dumped with.
	SocketPath string
	// Raw is the plugin's entry of the dump, unparsed.
	Raw json.RawMessage
}

// HasPhase reports whether the plugin handles the phase.
func (i Info) HasPhase(phase string) bool {
	for _, p := range i.Phases {
		if p == phase {
			return true
		}
	}
	return false
}

type dumpDoc struct {
	Protocol   string
	SocketPath string
	Plugins    []json.RawMessage
}

type dumpPlugin struct {
	Name     string
	Version  string
	Priority int
	Phases   []string
	Schema   Schema
}

// Dump runs `binPath -dump` as Kong's query command does and parses the plugin info. It
// fails unless the dump describes exactly one plugin.
func Dump(ctx context.Context, binPath string) (Info, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binPath, "-dump")
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return Info{}, fmt.Errorf("kongstandin: %s -dump: %w (stderr: %s)", binPath, err, bytes.TrimSpace(stderr.Bytes()))
	}
	info, err := ParseDump(stdout.Bytes())
	if err != nil {
		return Info{}, fmt.Errorf("kongstandin: %s -dump: %w", binPath, err)
	}
	if want := filepath.Base(binPath); info.Name != want {
		return Info{}, fmt.Errorf("kongstandin: %s -dump names plugin %q, want the binary name %q", binPath, info.Name, want)
	}
	return info, nil
}

// ParseDump parses the JSON a go-pdk plugin server prints for -dump. Like Kong, it accepts
// the {"Protocol", "SocketPath", "Plugins": [...]} form and a bare array of plugins.
func ParseDump(data []byte) (Info, error) {
	var doc dumpDoc
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &doc.Plugins); err != nil {
			return Info{}, fmt.Errorf("parse dump: %w", err)
		}
	} else if err := json.Unmarshal(trimmed, &doc); err != nil {
		return Info{}, fmt.Errorf("parse dump: %w", err)
	}
	if len(doc.Plugins) != 1 {
		return Info{}, fmt.Errorf("dump lists %d plugins, want 1", len(doc.Plugins))
	}
	var p dumpPlugin
	if err := json.Unmarshal(doc.Plugins[0], &p); err != nil {
		return Info{}, fmt.Errorf("parse plugin info: %w", err)
	}
	if p.Name == "" {
		return Info{}, errors.New("dump has a plugin without a name")
	}
	return Info{
		Name:       p.Name,
		Version:    p.Version,
		Priority:   p.Priority,
		Phases:     p.Phases,
		Schema:     p.Schema,
		Protocol:   doc.Protocol,
		SocketPath: doc.SocketPath,
		Raw:        doc.Plugins[0],
	}, nil
}
