package kongstandin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
)

// event is one phase of one request being run: Kong's side of the PDK bridge loop.
type event struct {
	srv   *Server
	phase string
	req   *ScriptedRequest
	st    *requestState
	res   *PhaseResult
}

// errExit ends the event loop after kong.response.exit; it is not an error of the phase.
var errExit = errors.New("exit")

// RunPhase runs one phase ("access", "log", ...) of a plugin instance for a scripted
// request: it sends HandleEvent, answers every PDK call from req until the plugin ends the
// event, and returns what the plugin did. On an error the returned result still holds the
// calls made so far. Run the phases of one request with the same req.
func (s *Server) RunPhase(ctx context.Context, id InstanceID, phase string, req *ScriptedRequest) (*PhaseResult, error) {
	if req == nil {
		return nil, errors.New("kongstandin: RunPhase needs a ScriptedRequest")
	}
	if !s.info.HasPhase(phase) {
		return nil, fmt.Errorf("kongstandin: plugin %s does not handle phase %q (its dump lists %v), Kong would not call it", s.info.Name, phase, s.info.Phases)
	}
	req.init()
	req.mu.Lock()
	defer req.mu.Unlock()

	start := time.Now()
	res := &PhaseResult{
		Phase:           phase,
		InstanceID:      id,
		UpstreamHeaders: http.Header{},
		ResponseHeaders: http.Header{},
	}
	ev := &event{srv: s, phase: phase, req: req, st: req.state, res: res}
	defer func() {
		res.CallCount = len(res.Calls)
		res.Shared = maps.Clone(ev.st.shared)
		res.Duration = time.Since(start)
	}()

	seq := s.nextMsgID()
	proc, mark := s.outputMark()
	conn, err := s.send(ctx, &pb.RpcCall{
		Sequence: seq,
		Call: &pb.RpcCall_CmdHandleEvent{CmdHandleEvent: &pb.CmdHandleEvent{
			InstanceId: int32(id),
			EventName:  phase,
		}},
	})
	if err != nil {
		return res, err
	}
	// Closing without answering is also how Kong leaves an event that exited or failed.
	defer conn.Close()

	r := bufio.NewReader(conn)
	for {
		method, err := readFrame(r)
		if err != nil {
			return res, fmt.Errorf("%s phase of instance %d: %w", phase, id, s.closedErr(ctx, err, proc, mark))
		}
		if len(method) == 0 {
			break
		}
		args, err := readFrame(r)
		if err != nil {
			return res, fmt.Errorf("%s phase of instance %d, args of %s: %w", phase, id, method, s.closedErr(ctx, err, proc, mark))
		}
		reply, err := ev.answer(string(method), args)
		if errors.Is(err, errExit) {
			// Kong yields the plugin's coroutine inside kong.response.exit and never
			// answers; the plugin sees the connection close.
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("kongstandin: %s phase of instance %d: %w", phase, id, err)
		}
		var data []byte
		if reply != nil {
			if data, err = proto.Marshal(reply); err != nil {
				return res, fmt.Errorf("kongstandin: encode answer to %s: %w", method, err)
			}
		}
		if err := writeFrame(conn, data); err != nil {
			return res, fmt.Errorf("kongstandin: answer %s: %w", method, err)
		}
	}
	if _, err := s.readReturn(ctx, r, seq, proc, mark); err != nil {
		return res, fmt.Errorf("%s phase of instance %d: %w", phase, id, err)
	}
	conn.keep()
	return res, nil
}

// answer handles one PDK call: it records it, checks Kong would answer it in this phase,
// and computes the reply (nil for an empty frame).
func (ev *event) answer(method string, args []byte) (proto.Message, error) {
	h, ok := pdkMethods[method]
	if !ok {
		ev.res.Calls = append(ev.res.Calls, Call{Method: method})
		return nil, fmt.Errorf("%w: the plugin called %q, which the stand-in does not answer (answered: see package doc)", ErrUnknownMethod, method)
	}
	if !h.when.allows(ev.phase) {
		ev.res.Calls = append(ev.res.Calls, Call{Method: method})
		return nil, fmt.Errorf("%w: the plugin called %q in the %s phase, where Kong cannot answer it (%s)", ErrUnknownMethod, method, ev.phase, h.when.why())
	}
	decoded, reply, err := h.fn(ev, args)
	ev.res.Calls = append(ev.res.Calls, Call{Method: method, Args: decoded})
	if err != nil && !errors.Is(err, errExit) {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return reply, err
}

// phaseRule says in which phases Kong answers a PDK method for an external plugin.
type phaseRule int

const (
	anyPhase       phaseRule = iota // saved for the log timer, or needs no request
	requestPhases                   // needs the live request: not in the log phase
	responsePhases                  // needs the response: header_filter, response, log
	logPhase                        // kong.log.serialize
)

func (r phaseRule) allows(phase string) bool {
	switch r {
	case requestPhases:
		return phase != "log"
	case responsePhases:
		return phase == "header_filter" || phase == "response" || phase == "body_filter" || phase == "log"
	case logPhase:
		return phase == "log"
	}
	return true
}

func (r phaseRule) why() string {
	switch r {
	case requestPhases:
		return "external plugins run the log phase in a timer after the request is released; only what Kong saved is answered"
	case responsePhases:
		return "there is no response before the header_filter phase"
	case logPhase:
		return "kong.log.serialize works only in the log phase"
	}
	return ""
}
