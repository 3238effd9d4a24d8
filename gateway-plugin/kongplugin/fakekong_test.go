package kongplugin_test

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/bridge"
	"github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// fakeKong answers the PDK calls of one request like Kong would, over go-pdk's own framing,
// for what go-pdk's test harness cannot do: any client address, the log phase with
// kong.log.serialize, the target set, and a record of every call.
type fakeKong struct {
	t        testing.TB
	method   string
	path     string
	headers  http.Header // as the client sent them; set_headers modifies them, as in Kong
	clientIP string

	mu          sync.Mutex
	calls       []string
	target      string
	exitStatus  int
	exitBody    []byte
	exitHeaders http.Header
}

func newFakeKong(t testing.TB, method, path, clientIP string, headers http.Header) *fakeKong {
	if headers == nil {
		headers = http.Header{}
	}
	return &fakeKong{t: t, method: method, path: path, clientIP: clientIP, headers: headers.Clone()}
}

// phase returns a PDK connected to this fake for one phase.
func (k *fakeKong) phase() *pdk.PDK {
	a, b := net.Pipe()
	go k.serve(b)
	k.t.Cleanup(func() { a.Close() })
	return pdk.Init(a)
}

func (k *fakeKong) serve(conn net.Conn) {
	defer conn.Close()
	for {
		method, err := readFrame(conn)
		if err != nil {
			return
		}
		args, err := readFrame(conn)
		if err != nil {
			return
		}
		out := k.handle(string(method), args)
		var raw []byte
		if out != nil {
			if raw, err = proto.Marshal(out); err != nil {
				k.t.Errorf("marshal answer to %s: %v", method, err)
				return
			}
		}
		if writeFrame(conn, raw) != nil {
			return
		}
	}
}

func (k *fakeKong) handle(method string, args []byte) proto.Message {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, method)
	switch method {
	case "kong.request.get_headers":
		lower := map[string][]string{}
		for name, v := range k.headers {
			lower[strings.ToLower(name)] = v
		}
		out, err := bridge.WrapHeaders(lower)
		if err != nil {
			k.t.Errorf("wrap headers: %v", err)
		}
		return out
	case "kong.client.get_forwarded_ip":
		return bridge.WrapString(k.clientIP)
	case "kong.request.get_method":
		return bridge.WrapString(k.method)
	case "kong.request.get_path":
		return bridge.WrapString(k.path)
	case "kong.service.set_target":
		var target kong_plugin_protocol.Target
		k.unmarshal(args, &target)
		k.target = net.JoinHostPort(strings.Trim(target.Host, "[]"), itoa(int(target.Port)))
	case "kong.service.request.set_headers":
		var st structpb.Struct
		k.unmarshal(args, &st)
		for name, v := range bridge.UnwrapHeaders(&st) {
			k.headers.Del(name)
			for _, one := range v {
				k.headers.Add(name, one)
			}
		}
	case "kong.response.exit":
		var exit kong_plugin_protocol.ExitArgs
		k.unmarshal(args, &exit)
		k.exitStatus, k.exitBody = int(exit.Status), exit.Body
		k.exitHeaders = http.Header(bridge.UnwrapHeaders(exit.Headers))
	case "kong.log.serialize":
		status, size := 200, 512
		if k.exitStatus != 0 {
			status, size = k.exitStatus, len(k.exitBody)
		}
		headers := map[string]any{}
		for name, v := range k.headers {
			if len(v) == 1 {
				headers[strings.ToLower(name)] = v[0]
			} else {
				headers[strings.ToLower(name)] = v
			}
		}
		raw, _ := json.Marshal(map[string]any{
			"request":   map[string]any{"method": k.method, "uri": k.path, "headers": headers, "size": 100},
			"response":  map[string]any{"status": status, "size": size, "headers": map[string]any{}},
			"latencies": map[string]any{"request": 12, "kong": 2, "proxy": 10},
			"client_ip": k.clientIP,
		})
		return bridge.WrapString(string(raw))
	default:
		k.t.Errorf("fake Kong: unexpected PDK call %s", method)
	}
	return nil
}

func (k *fakeKong) unmarshal(raw []byte, m proto.Message) {
	if err := proto.Unmarshal(raw, m); err != nil {
		k.t.Errorf("unmarshal args: %v", err)
	}
}

// Calls returns the PDK methods called so far, in order.
func (k *fakeKong) Calls() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.calls...)
}

func itoa(n int) string {
	raw, _ := json.Marshal(n)
	return string(raw)
}

func readFrame(r io.Reader) ([]byte, error) {
	var n uint32
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	_, err := io.ReadFull(r, buf)
	return buf, err
}

func writeFrame(w io.Writer, data []byte) error {
	if err := binary.Write(w, binary.LittleEndian, uint32(len(data))); err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	_, err := w.Write(data)
	return err
}
