package kongstandin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Plugin is one plugin entity of a Kong configuration (the plugin on a route, a service or
// globally) with its config. Like Kong's instance cache (get_instance_id in
// kong/runloop/plugin_servers), it starts its instance on first use and, when the plugin
// server has lost it (a restart, or go-pdk expiring it), starts it again with the same
// config, __seq__ included, and runs the phase once more.
type Plugin struct {
	srv    *Server
	name   string
	config []byte // with Kong's keys added once, so a restart reuses the same __seq__

	mu      sync.Mutex
	id      InstanceID
	started bool
}

// NewPlugin declares a plugin entity with its config (a JSON object). No RPC is made until
// the first phase runs.
func (s *Server) NewPlugin(pluginName string, configJSON []byte) (*Plugin, error) {
	cfg, err := s.kongConfig(pluginName, configJSON)
	if err != nil {
		return nil, err
	}
	return &Plugin{srv: s, name: pluginName, config: cfg}, nil
}

// Config is the config as sent to the plugin server, Kong's keys included.
func (p *Plugin) Config() []byte { return append([]byte(nil), p.config...) }

// InstanceID is the instance the plugin entity currently runs on (0 before the first run).
func (p *Plugin) InstanceID() InstanceID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id
}

// instance returns the current instance id, starting one when there is none.
func (p *Plugin) instance(ctx context.Context) (InstanceID, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return p.id, nil
	}
	id, err := p.srv.startInstanceRaw(ctx, p.name, p.config)
	if err != nil {
		return 0, err
	}
	p.id, p.started = id, true
	return id, nil
}

// reset forgets the instance if it is still the one that failed.
func (p *Plugin) reset(id InstanceID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started && p.id == id {
		p.started = false
	}
}

// RunPhase runs a phase for a request on this plugin entity's instance. When the plugin
// server closes the connection before the plugin made any PDK call (an unknown instance),
// it starts the instance again and retries once, as Kong does. Kong also retries after a
// close in the middle of an event, running the phase twice; the stand-in does not, so a
// crash mid-event surfaces as an error.
func (p *Plugin) RunPhase(ctx context.Context, phase string, req *ScriptedRequest) (*PhaseResult, error) {
	id, err := p.instance(ctx)
	if err != nil {
		return nil, err
	}
	res, err := p.srv.RunPhase(ctx, id, phase, req)
	if err == nil || !errors.Is(err, ErrClosed) || (res != nil && res.CallCount > 0) {
		return res, err
	}
	p.srv.log.Warn("plugin server lost the instance; starting it again", "instance", id, "err", err)
	p.reset(id)
	if id, err = p.instance(ctx); err != nil {
		return nil, err
	}
	return p.srv.RunPhase(ctx, id, phase, req)
}

// Replace gives the plugin entity a new config, as a Kong config change does: the config
// gets a new __seq__ while the entity keeps its __plugin_id and __key__, and, as Kong's
// get_instance_id does on the first request after the change, the stand-in starts an
// instance for the new config and then closes the old instance. Like Kong, it ignores a
// close of an instance the plugin server no longer knows.
func (p *Plugin) Replace(ctx context.Context, configJSON []byte) error {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(configJSON))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return fmt.Errorf("kongstandin: plugin config must be a JSON object: %v", err)
	}
	var entity struct {
		PluginID string `json:"__plugin_id"`
		Key      string `json:"__key__"`
	}
	if err := json.Unmarshal(p.config, &entity); err != nil {
		return fmt.Errorf("kongstandin: current config: %w", err)
	}
	delete(m, "__seq__")
	m["__plugin_id"], m["__key__"] = entity.PluginID, entity.Key
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	cfg, err := p.srv.kongConfig(p.name, raw)
	if err != nil {
		return err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	id, err := p.srv.startInstanceRaw(ctx, p.name, cfg)
	if err != nil {
		return err
	}
	old, started := p.id, p.started
	p.config, p.id, p.started = cfg, id, true
	if !started {
		return nil
	}
	if err := p.srv.CloseInstance(ctx, old); err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	return nil
}
