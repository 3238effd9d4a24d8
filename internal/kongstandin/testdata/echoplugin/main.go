// Command echoplugin is a throwaway go-pdk plugin that the kongstandin tests compile and
// run the way Kong runs a Go plugin. Its config switches on the behaviours under test.
package main

import (
	"encoding/json"
	"fmt"
	"log"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server"
)

// Config is the plugin config; go-pdk derives the dumped schema from it.
type Config struct {
	Instance     string         `json:"instance"`
	UpstreamHost string         `json:"upstream_host"`
	UpstreamPort int            `json:"upstream_port"`
	Tags         []string       `json:"tags"`
	Limits       map[string]int `json:"limits"`
	Strict       bool           `json:"strict"`
	Ratio        float64        `json:"ratio"`
	Ignored      int64          `json:"ignored"`
	PanicOn      string         `json:"panic_on"`
	Recover      bool           `json:"recover"`
	CallUnknown  bool           `json:"call_unknown"`
	LogReadsPath bool           `json:"log_reads_path"`
}

// New is the constructor go-pdk calls for every instance.
func New() interface{} { return &Config{} }

var jsonHeaders = map[string][]string{"Content-Type": {"application/problem+json"}}

// Access denies a request without X-Api-Key with a 403 problem document, and otherwise
// tags the upstream request with the instance and what it saw.
func (c *Config) Access(kong *pdk.PDK) {
	if c.Recover {
		defer func() {
			if r := recover(); r != nil {
				_ = kong.Log.Err("recovered: ", fmt.Sprint(r))
				kong.Response.Exit(500, []byte(`{"code":"internal"}`), jsonHeaders)
			}
		}()
	}
	key, err := kong.Request.GetHeader("x-api-key")
	if err != nil {
		log.Printf("get header: %v", err)
		return
	}
	if c.PanicOn != "" {
		if v, _ := kong.Request.GetHeader(c.PanicOn); v != "" {
			panic("echo plugin: asked to panic")
		}
	}
	if c.CallUnknown {
		if _, err := kong.Client.GetConsumer(); err != nil {
			log.Printf("get consumer: %v", err)
		}
		return
	}
	if key == "" {
		body, _ := json.Marshal(map[string]string{"code": "missing_key", "instance": c.Instance})
		kong.Response.Exit(403, body, jsonHeaders)
		return
	}
	ip, _ := kong.Client.GetForwardedIp()
	method, _ := kong.Request.GetMethod()
	path, _ := kong.Request.GetPath()
	_ = kong.ServiceRequest.SetHeader("X-Echo-Instance", c.Instance)
	_ = kong.ServiceRequest.SetHeader("X-Echo-Seen", method+" "+path+" from "+ip)
	_ = kong.ServiceRequest.ClearHeader("X-Api-Key")
	if c.UpstreamHost != "" {
		_ = kong.Service.SetTarget(c.UpstreamHost, c.UpstreamPort)
	}
	_ = kong.Ctx.SetShared("echo.instance", c.Instance)
	_ = kong.Log.Info("echo access ", c.Instance)
}

// Log reports what the log phase can see: the serialized request, the shared value set
// in access, and the response status.
func (c *Config) Log(kong *pdk.PDK) {
	if c.LogReadsPath {
		if _, err := kong.Request.GetPath(); err != nil {
			log.Printf("get path in log: %v", err)
		}
		return
	}
	raw, err := kong.Log.Serialize()
	if err != nil {
		log.Printf("serialize: %v", err)
		return
	}
	var doc struct {
		ClientIP string `json:"client_ip"`
		Source   string `json:"source"`
		Request  struct {
			Headers map[string]any `json:"headers"`
		} `json:"request"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		log.Printf("decode serialize: %v", err)
		return
	}
	shared, _ := kong.Ctx.GetSharedString("echo.instance")
	status, _ := kong.Response.GetStatus()
	_ = kong.Log.Notice(c.Instance, shared, status, doc.ClientIP, doc.Source, fmt.Sprint(doc.Request.Headers["authorization"]))
}

func main() {
	if err := server.StartServer(New, "0.1.0", 1000); err != nil {
		log.Fatal(err)
	}
}
