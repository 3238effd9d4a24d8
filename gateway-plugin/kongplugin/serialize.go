package kongplugin

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/steller/platform/gateway-plugin/edge"
)

// serialized is the part of Kong's kong.log.serialize() document the plugin reads.
// Latencies are in milliseconds; response.size counts the bytes Kong sent.
type serialized struct {
	Request struct {
		Headers map[string]json.RawMessage `json:"headers"`
	} `json:"request"`
	Response struct {
		Status int   `json:"status"`
		Size   int64 `json:"size"`
	} `json:"response"`
	Latencies struct {
		Request float64 `json:"request"`
		Proxy   float64 `json:"proxy"`
	} `json:"latencies"`
}

func parseSerialized(raw string) (*serialized, error) {
	var s serialized
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, fmt.Errorf("kongplugin: serialized log: %w", err)
	}
	return &s, nil
}

// requestID returns the request header name's value; Kong serializes a repeated header as
// an array, of which the last is the one Access set.
func (s *serialized) requestID(name string) string {
	raw, ok := s.Request.Headers[name]
	if !ok {
		return ""
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		return many[len(many)-1]
	}
	return ""
}

// result converts Kong's figures; a proxy latency of -1 (no upstream) counts as 0.
func (s *serialized) result() edge.Result {
	ms := func(v float64) time.Duration { return time.Duration(max(v, 0) * float64(time.Millisecond)) }
	return edge.Result{
		Status:        s.Response.Status,
		ResponseBytes: s.Response.Size,
		Total:         ms(s.Latencies.Request),
		Upstream:      ms(s.Latencies.Proxy),
	}
}
