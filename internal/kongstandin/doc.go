// Package kongstandin owns a test stand-in for Kong: it runs a compiled go-pdk plugin
// binary the way Kong's embedded plugin-server mode does and speaks Kong's side of the
// protobuf plugin-server protocol to it, so a Go plugin can be proven without Kong.
//
// What it does, step by step, as Kong 3.x does it (kong/runloop/plugin_servers):
//
//   - Dump runs `<binary> -dump` (Kong's pluginserver_<name>_query_cmd) and parses the
//     plugin's name, version, priority, phases and config schema.
//   - Start launches `<binary> -kong-prefix <prefix>` (Kong's start_cmd) and waits for the
//     socket `<prefix>/<binary name>.socket`. Close stops that one process by its pid.
//   - Each RPC (StartInstance, CloseInstance, InstanceStatus, HandleEvent) is one
//     connection, one frame out and one frame back; a frame is a little-endian uint32 length
//     followed by a protobuf message of go-pdk's server/kong_plugin_protocol (RpcCall,
//     RpcReturn).
//   - During HandleEvent the plugin sends PDK calls as two frames, the method name (for
//     example "kong.request.get_header") and its protobuf argument; the stand-in answers
//     each with one frame, until the plugin sends an empty frame (event done) followed by
//     the RpcReturn.
//   - kong.response.exit ends the event on Kong's side: Kong yields the plugin's coroutine
//     and never answers the call, so the stand-in records the exit and drops the connection.
//   - A PDK method the stand-in does not answer, or one Kong cannot answer in the phase,
//     fails the phase with an error naming the method (Kong drops the connection and
//     answers the client with a 500). Nothing is answered with a silent nil.
//   - StartInstance adds the keys Kong adds to every plugin config (__seq__, __key__,
//     __plugin_id); go-pdk uses __seq__ as the instance id. Plugin mirrors Kong's instance
//     cache: it starts its instance on first use and starts it again, with the same config,
//     when the plugin server no longer knows it (after a restart). Plugin.Replace is a
//     config change: the entity keeps its __plugin_id with a new __seq__, and, as Kong's
//     get_instance_id does, the stand-in starts the new config's instance, then closes the
//     old one.
//
// PDK methods answered, from the ScriptedRequest and what the plugin set before:
//
//	kong.client.get_ip, get_forwarded_ip, get_port, get_forwarded_port, get_protocol
//	kong.ctx.shared.get, kong.ctx.shared.set
//	kong.ip.is_trusted
//	kong.log.alert, crit, err, warn, notice, info, debug, kong.log.serialize (log phase only)
//	kong.nginx.get_var, get_ctx, set_ctx, req_start_time, get_subsystem
//	kong.node.get_id
//	kong.request.get_scheme, get_host, get_port, get_forwarded_scheme, get_forwarded_host,
//	  get_forwarded_port, get_http_version, get_method, get_path, get_path_with_query,
//	  get_raw_query, get_query_arg, get_query, get_header, get_headers, get_raw_body
//	kong.response.get_status, get_header, get_headers, get_source (not in rewrite/access),
//	  set_status, set_header, add_header, clear_header, set_headers, exit
//	kong.router.get_route, kong.router.get_service
//	kong.service.set_upstream, kong.service.set_target
//	kong.service.request.set_scheme, set_path, set_raw_query, set_method, set_query,
//	  set_header, add_header, clear_header, set_headers, set_raw_body
//
// The log phase follows Kong's rule for external plugins: Kong runs it in a timer after the
// request is released, so only what Kong saved for it is answered (kong.log.serialize,
// kong.request.get_header(s), kong.response.get_status/get_header(s)/get_source,
// kong.nginx.req_start_time, get_ctx/set_ctx, get_subsystem, kong.ctx.shared.*, kong.log.*,
// kong.node.get_id, kong.ip.is_trusted). Anything else in the log phase fails, as it does
// in Kong ("no phase in kong.ctx.core.phase", Kong/go-pdk#61).
package kongstandin
