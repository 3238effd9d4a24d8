package kongstandin

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
)

// InstanceID identifies a plugin instance (one plugin config) inside the plugin server.
type InstanceID int32

// InstanceStatus is what the plugin server reports about an instance.
type InstanceStatus struct {
	// Name is the plugin name the instance was started for ("---" in go-pdk's status
	// answers other than StartInstance).
	Name string
	// ID is the instance id.
	ID InstanceID
	// StartedAt is when the instance started, in Unix seconds.
	StartedAt int64
}

// ErrClosed is returned when the plugin server closed the connection before answering.
// go-pdk does that for an unknown instance id, an undefined phase, and when it dies; Kong
// reacts to it by starting the instance again (see Plugin).
var ErrClosed = errors.New("plugin server closed the connection")

// ErrUnknownMethod is returned when the plugin calls a PDK method the stand-in does not
// answer (or that Kong cannot answer in the phase).
var ErrUnknownMethod = errors.New("PDK method not answered")

// maxFrame bounds a frame the stand-in accepts; a larger length means a broken stream.
const maxFrame = 64 << 20

func readFrame(r io.Reader) ([]byte, error) {
	var n uint32
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return nil, err
	}
	if n > maxFrame {
		return nil, fmt.Errorf("frame of %d bytes is over the %d limit", n, maxFrame)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, err
	}
	return data, nil
}

func writeFrame(w io.Writer, data []byte) error {
	buf := make([]byte, 4+len(data))
	binary.LittleEndian.PutUint32(buf, uint32(len(data)))
	copy(buf[4:], data)
	_, err := w.Write(buf)
	return err
}

// maxIdleConns bounds the pool of idle connections, as Kong's keepalive pool does.
const maxIdleConns = 16

// rpcConn is a connection lent for one RPC, with the context's deadline or CallTimeout.
// Like Kong's cosocket keepalive pool, a connection whose RPC completed goes back to the
// pool; one that failed, or was left mid-event after kong.response.exit, is closed.
type rpcConn struct {
	net.Conn
	srv   *Server
	gen   int
	stop  func() bool
	reuse bool
}

// keep marks the RPC complete, so Close returns the connection to the pool.
func (c *rpcConn) keep() { c.reuse = true }

func (c *rpcConn) Close() error {
	// stop is false when the context ended and its AfterFunc closed the connection.
	if c.stop() && c.reuse && c.Conn.SetDeadline(time.Time{}) == nil && c.srv.putConn(c.Conn, c.gen) {
		return nil
	}
	return c.Conn.Close()
}

// conn lends a pooled connection or dials a new one.
func (s *Server) conn(ctx context.Context) (*rpcConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kongstandin: %w", err)
	}
	s.mu.Lock()
	gen := s.gen
	var raw net.Conn
	if n := len(s.idle); n > 0 {
		raw, s.idle = s.idle[n-1], s.idle[:n-1]
	}
	s.mu.Unlock()
	if raw == nil {
		var d net.Dialer
		var err error
		if raw, err = d.DialContext(ctx, "unix", s.socket); err != nil {
			return nil, fmt.Errorf("kongstandin: connect %s: %w", s.socket, err)
		}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.cfg.CallTimeout)
	}
	if err := raw.SetDeadline(deadline); err != nil {
		_ = raw.Close()
		return nil, err
	}
	// Closing the connection when the context ends unblocks a pending read.
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	return &rpcConn{Conn: raw, srv: s, gen: gen, stop: stop}, nil
}

// putConn returns an idle connection to the pool unless the process it belongs to is gone.
func (s *Server) putConn(c net.Conn, gen int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || gen != s.gen || len(s.idle) >= maxIdleConns {
		return false
	}
	s.idle = append(s.idle, c)
	return true
}

// dropIdle closes the pooled connections and starts a new generation; called when the
// process they lead to goes away.
func (s *Server) dropIdle() {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.gen++
	s.mu.Unlock()
	for _, c := range idle {
		_ = c.Close()
	}
}

func (s *Server) nextMsgID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgID++
	return s.msgID
}

// send writes one RpcCall on a lent connection and returns the connection.
func (s *Server) send(ctx context.Context, call *pb.RpcCall) (*rpcConn, error) {
	conn, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	data, err := proto.Marshal(call)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("kongstandin: encode RpcCall: %w", err)
	}
	if err := writeFrame(conn, data); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("kongstandin: send RpcCall: %w", err)
	}
	return conn, nil
}

// readReturn reads the RpcReturn that ends an RPC and checks its sequence.
func (s *Server) readReturn(ctx context.Context, conn io.Reader, seq int64, proc *process, mark int) (*pb.RpcReturn, error) {
	data, err := readFrame(conn)
	if err != nil {
		return nil, s.closedErr(ctx, err, proc, mark)
	}
	var ret pb.RpcReturn
	if err := proto.Unmarshal(data, &ret); err != nil {
		return nil, fmt.Errorf("kongstandin: decode RpcReturn: %w", err)
	}
	if ret.Sequence != seq {
		return nil, fmt.Errorf("kongstandin: RpcReturn sequence %d, want %d", ret.Sequence, seq)
	}
	return &ret, nil
}

// closedErr turns a read failure into ErrClosed with what the plugin server wrote since
// the RPC began (go-pdk logs there why it hung up, e.g. "no plugin instance 7").
func (s *Server) closedErr(ctx context.Context, err error, proc *process, mark int) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("kongstandin: %w (%v)", ctxErr, err)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		return fmt.Errorf("kongstandin: read from plugin server: %w", err)
	}
	var why []string
	if proc != nil {
		// go-pdk logs its reason just after closing, and the output arrives through a
		// pipe: wait a little for a line that explains the close.
		for range 25 {
			why = why[:0]
			explained := false
			for _, line := range proc.outputSince(mark) {
				// go-pdk logs a bare EOF whenever a connection ends; it says nothing here.
				if strings.HasSuffix(line, " EOF") {
					continue
				}
				why = append(why, line)
				explained = explained || slices.ContainsFunc(closeReasons, func(r string) bool { return strings.Contains(line, r) })
			}
			if explained {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return fmt.Errorf("kongstandin: %w (%v); plugin server output: %s", ErrClosed, err, strings.Join(why, " | "))
}

// closeReasons are the messages go-pdk logs when it hangs up on Kong.
var closeReasons = []string{"no plugin instance", "undefined method", "panic:", "unexpected type", "decoding config"}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}

// StartInstance starts a plugin instance for a config, as Kong does the first time a
// plugin entity runs. configJSON must be a JSON object; the keys Kong adds to every config
// (__seq__, __key__, __plugin_id) are added when absent, and go-pdk uses __seq__ as the
// instance id.
func (s *Server) StartInstance(ctx context.Context, pluginName string, configJSON []byte) (InstanceID, error) {
	cfg, err := s.kongConfig(pluginName, configJSON)
	if err != nil {
		return 0, err
	}
	return s.startInstanceRaw(ctx, pluginName, cfg)
}

func (s *Server) startInstanceRaw(ctx context.Context, pluginName string, cfg []byte) (InstanceID, error) {
	seq := s.nextMsgID()
	proc, mark := s.outputMark()
	conn, err := s.send(ctx, &pb.RpcCall{
		Sequence: seq,
		Call: &pb.RpcCall_CmdStartInstance{CmdStartInstance: &pb.CmdStartInstance{
			Name:   pluginName,
			Config: cfg,
		}},
	})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ret, err := s.readReturn(ctx, conn, seq, proc, mark)
	if err != nil {
		return 0, fmt.Errorf("start instance of %s: %w", pluginName, err)
	}
	conn.keep()
	st := ret.GetInstanceStatus()
	if st == nil {
		return 0, fmt.Errorf("kongstandin: StartInstance answered %T, want an instance status", ret.Return)
	}
	s.log.Debug("instance started", "instance", st.InstanceId)
	return InstanceID(st.InstanceId), nil
}

// kongConfig adds Kong's bookkeeping keys to a plugin config.
func (s *Server) kongConfig(pluginName string, configJSON []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(configJSON))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("kongstandin: plugin config must be a JSON object: %v", err)
	}
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	if _, ok := m["__seq__"]; !ok {
		m["__seq__"] = seq
	}
	if _, ok := m["__plugin_id"]; !ok {
		m["__plugin_id"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", seq)
	}
	if _, ok := m["__key__"]; !ok {
		m["__key__"] = fmt.Sprintf("plugins:%s:::::%d", pluginName, seq)
	}
	return json.Marshal(m)
}

// InstanceStatus asks the plugin server about an instance.
func (s *Server) InstanceStatus(ctx context.Context, id InstanceID) (InstanceStatus, error) {
	ret, err := s.instanceCmd(ctx, &pb.RpcCall{Call: &pb.RpcCall_CmdGetInstanceStatus{
		CmdGetInstanceStatus: &pb.CmdGetInstanceStatus{InstanceId: int32(id)},
	}})
	if err != nil {
		return InstanceStatus{}, fmt.Errorf("instance %d status: %w", id, err)
	}
	st := ret.GetInstanceStatus()
	return InstanceStatus{Name: st.GetName(), ID: InstanceID(st.GetInstanceId()), StartedAt: st.GetStartedAt()}, nil
}

// CloseInstance tells the plugin server an instance is no longer used, as Kong does when
// a plugin's config changes.
func (s *Server) CloseInstance(ctx context.Context, id InstanceID) error {
	_, err := s.instanceCmd(ctx, &pb.RpcCall{Call: &pb.RpcCall_CmdCloseInstance{
		CmdCloseInstance: &pb.CmdCloseInstance{InstanceId: int32(id)},
	}})
	if err != nil {
		return fmt.Errorf("close instance %d: %w", id, err)
	}
	return nil
}

// instanceCmd runs one instance command RPC; it fills in the sequence.
func (s *Server) instanceCmd(ctx context.Context, rc *pb.RpcCall) (*pb.RpcReturn, error) {
	rc.Sequence = s.nextMsgID()
	proc, mark := s.outputMark()
	conn, err := s.send(ctx, rc)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ret, err := s.readReturn(ctx, conn, rc.Sequence, proc, mark)
	if err == nil {
		conn.keep()
	}
	return ret, err
}
