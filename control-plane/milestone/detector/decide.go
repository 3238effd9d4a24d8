package detector

import (
	"time"

	"github.com/valyala/fastjson"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/control-plane/milestone"
)

// Reasons a message is skipped, the reason label of steller_milestone_detector_skipped_total.
const (
	// ReasonInvalidJSON: the value is not a JSON object.
	ReasonInvalidJSON = "invalid_json"
	// ReasonUnsupportedVersion: schema_version is not one this detector reads.
	ReasonUnsupportedVersion = "unsupported_schema_version"
	// ReasonInvalidEvent: an event that would reach a milestone lacks its partner, id or
	// time, or an order event breaks its contract.
	ReasonInvalidEvent = "invalid_event"
	// ReasonUnknownPartner: the event names a partner the control plane does not have.
	ReasonUnknownPartner = "unknown_partner"
)

// streamKind is what differs between the two streams: the milestones they reach and how a
// message value is read.
type streamKind struct {
	name string
	// test and live are the milestones of the two environments.
	test, live milestone.Name
	source     milestone.Source
	// newDecider returns a decider for one consumer loop (deciders are not thread-safe).
	newDecider func() decider
}

// decider reads one message value into the milestone it would reach. It returns
// ok=false for an event that reaches nothing (a 4xx, a denial, a failed order) and a
// non-empty reason for a message that cannot be read. reached says whether the partner
// already has a milestone, so a decider can stop reading early.
type decider interface {
	decide(value []byte, reached func(partner []byte, name milestone.Name) bool, k *streamKind) (r milestone.Reached, ok bool, reason string)
}

var requestStream = streamKind{
	name: "request_logs", test: milestone.FirstSandboxCall, live: milestone.FirstLiveCall, source: milestone.FromRequestLog,
	newDecider: func() decider { return &requestDecider{} },
}

var orderStream = streamKind{
	name: "order_events", test: milestone.FirstSandboxOrder, live: milestone.FirstLiveOrder, source: milestone.FromOrderEvent,
	newDecider: func() decider { return orderDecider{} },
}

// environment maps an event's environment to k's milestone; false for any other value.
func (k *streamKind) environment(env []byte) (milestone.Name, bool) {
	switch string(env) {
	case "test":
		return k.test, true
	case "live":
		return k.live, true
	}
	return "", false
}

// requestDecider reads request-log events with fastjson and only the fields it needs, in
// an order that rejects the common case (not a 2xx, or a partner that already reached
// the milestone) before anything is allocated.
type requestDecider struct {
	parser fastjson.Parser
}

func (d *requestDecider) decide(value []byte, reached func([]byte, milestone.Name) bool, k *streamKind) (milestone.Reached, bool, string) {
	v, err := d.parser.ParseBytes(value)
	if err != nil || v.Type() != fastjson.TypeObject {
		return milestone.Reached{}, false, ReasonInvalidJSON
	}
	if v.GetInt("schema_version") != requestlog.SchemaVersion {
		return milestone.Reached{}, false, ReasonUnsupportedVersion
	}
	if status := v.GetInt("status"); status < 200 || status > 299 {
		return milestone.Reached{}, false, ""
	}
	if string(v.GetStringBytes("decision")) != requestlog.DecisionAllow {
		return milestone.Reached{}, false, ""
	}
	name, ok := k.environment(v.GetStringBytes("environment"))
	if !ok {
		return milestone.Reached{}, false, ""
	}
	partner := v.GetStringBytes("partner_id")
	if len(partner) == 0 {
		return milestone.Reached{}, false, ReasonInvalidEvent
	}
	if reached(partner, name) {
		return milestone.Reached{}, false, ""
	}
	id, ts := v.GetStringBytes("request_id"), v.GetInt64("timestamp_ms")
	if len(id) == 0 || ts <= 0 {
		return milestone.Reached{}, false, ReasonInvalidEvent
	}
	return milestone.Reached{PartnerID: string(partner), Milestone: name, At: time.UnixMilli(ts).UTC(),
		EventID: string(id), Source: k.source}, true, ""
}

// orderDecider reads order events with orderevent.Decode, which checks the whole
// contract: order events are few beside request logs.
type orderDecider struct{}

func (orderDecider) decide(value []byte, reached func([]byte, milestone.Name) bool, k *streamKind) (milestone.Reached, bool, string) {
	e, err := orderevent.Decode(value)
	if err != nil {
		switch {
		case fastjson.ValidateBytes(value) != nil:
			return milestone.Reached{}, false, ReasonInvalidJSON
		case fastjson.GetInt(value, "schema_version") != orderevent.SchemaVersion:
			return milestone.Reached{}, false, ReasonUnsupportedVersion
		}
		return milestone.Reached{}, false, ReasonInvalidEvent
	}
	if e.Type != orderevent.TypeCompleted {
		return milestone.Reached{}, false, ""
	}
	name, ok := k.environment([]byte(e.Environment))
	if !ok || reached([]byte(e.PartnerID), name) {
		return milestone.Reached{}, false, ""
	}
	return milestone.Reached{PartnerID: e.PartnerID, Milestone: name, At: time.UnixMilli(e.OccurredAtMs).UTC(),
		EventID: e.EventID, Source: k.source}, true, ""
}
