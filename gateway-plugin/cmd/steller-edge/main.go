// Command steller-edge is the steller-edge Kong plugin as an embedded go-pdk plugin server.
// Kong runs it twice: with -dump to read the plugin's name, phases, version, priority and
// config schema, then with -kong-prefix to serve the plugin on <prefix>/steller-edge.socket.
// The binary must be named steller-edge: go-pdk names the plugin after the executable.
package main

import (
	"log"

	"github.com/Kong/go-pdk/server"

	"github.com/steller/platform/gateway-plugin/kongplugin"
)

func main() {
	if err := server.StartServer(kongplugin.New, kongplugin.Version, kongplugin.Priority); err != nil {
		log.Fatalf("steller-edge: %v", err)
	}
}
