package detector_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/milestone/detector"
	"github.com/steller/platform/control-plane/milestone/milestonetest"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/internal/testenv"
)

// streams is a small history of three partners: A reaches every detector milestone after
// 4xx, denied and duplicate events, B sends only refused requests and a failed order, C
// goes live; poison messages and an unknown partner sit among them.
type streams struct {
	a, b, c          string
	t0               time.Time
	requests, orders []kafka.Message
}

func history(t *testing.T, e env) streams {
	s := streams{
		a:  partnertest.Seed(t, e.pool, "Alpha", false).PartnerID,
		b:  partnertest.Seed(t, e.pool, "Beta", false).PartnerID,
		c:  partnertest.Seed(t, e.pool, "Gamma", true).PartnerID,
		t0: time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond),
	}
	at := func(sec int) time.Time { return s.t0.Add(time.Duration(sec) * time.Second) }
	s.requests = []kafka.Message{
		milestonetest.Message(t, s.a, []byte(`{not json`)),
		milestonetest.Message(t, s.a, []byte(`{"schema_version":2,"request_id":"req_v2","partner_id":"`+s.a+`","environment":"test","status":200,"decision":"allow","timestamp_ms":1}`)),
		milestonetest.Message(t, s.a, milestonetest.Call("req_a_404", s.a, "test", 404, at(0))),
		milestonetest.Message(t, s.a, milestonetest.Call("req_a_403", s.a, "test", 403, at(1))),
		milestonetest.Message(t, s.a, milestonetest.Call("req_a_first", s.a, "test", 200, at(2))),
		milestonetest.Message(t, s.a, milestonetest.Call("req_a_second", s.a, "test", 201, at(3))),
		milestonetest.Message(t, s.a, milestonetest.Call("req_a_live", s.a, "live", 200, at(4))),
		milestonetest.Message(t, s.b, milestonetest.Call("req_b_401", s.b, "test", 401, at(1))),
		milestonetest.Message(t, s.b, milestonetest.Call("req_b_500", s.b, "test", 500, at(2))),
		milestonetest.Message(t, s.b, milestonetest.Call("req_b_429", s.b, "test", 429, at(3))),
		milestonetest.Message(t, "ptr_ghost", milestonetest.Call("req_ghost", "ptr_ghost", "test", 200, at(4))),
		milestonetest.Message(t, s.c, milestonetest.Call("req_c_live", s.c, "live", 200, at(5))),
		milestonetest.Message(t, s.c, milestonetest.Call("req_c_live_again", s.c, "live", 200, at(6))),
	}
	zero := milestonetest.Order("ord_zero", orderevent.TypeCompleted, s.b, "test", at(9))
	zero.AmountCents = 0
	s.orders = []kafka.Message{
		milestonetest.Message(t, s.a, []byte(`{oops`)),
		milestonetest.Message(t, s.b, zero),
		milestonetest.Message(t, s.a, milestonetest.Order("ord_a1", orderevent.TypeCreated, s.a, "test", at(10))),
		milestonetest.Message(t, s.a, milestonetest.Order("ord_a1", orderevent.TypeCompleted, s.a, "test", at(12))),
		milestonetest.Message(t, s.a, milestonetest.Order("ord_a2", orderevent.TypeCompleted, s.a, "test", at(20))),
		milestonetest.Message(t, s.b, milestonetest.Order("ord_b1", orderevent.TypeCreated, s.b, "test", at(10))),
		milestonetest.Message(t, s.b, milestonetest.Order("ord_b1", orderevent.TypeFailed, s.b, "test", at(11))),
		milestonetest.Message(t, s.c, milestonetest.Order("ord_c1", orderevent.TypeCreated, s.c, "live", at(29))),
		milestonetest.Message(t, s.c, milestonetest.Order("ord_c1", orderevent.TypeCompleted, s.c, "live", at(30))),
	}
	return s
}

// want is what the history must reach, exactly.
func (s streams) want() map[string][]milestone.Reached {
	at := func(sec int) time.Time { return s.t0.Add(time.Duration(sec) * time.Second) }
	return map[string][]milestone.Reached{
		s.a: {
			{PartnerID: s.a, Milestone: milestone.FirstLiveCall, At: at(4), EventID: "req_a_live", Source: milestone.FromRequestLog},
			{PartnerID: s.a, Milestone: milestone.FirstSandboxCall, At: at(2), EventID: "req_a_first", Source: milestone.FromRequestLog},
			{PartnerID: s.a, Milestone: milestone.FirstSandboxOrder, At: at(12), EventID: "evt_ord_a1_completed", Source: milestone.FromOrderEvent},
		},
		s.c: {
			{PartnerID: s.c, Milestone: milestone.FirstLiveCall, At: at(5), EventID: "req_c_live", Source: milestone.FromRequestLog},
			{PartnerID: s.c, Milestone: milestone.FirstLiveOrder, At: at(30), EventID: "evt_ord_c1_completed", Source: milestone.FromOrderEvent},
		},
	}
}

func TestTheDetectorRecordsExactlyTheFirstSuccessesAndAReplayChangesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	s := history(t, e)
	testenv.Produce(t, e.kafka.Brokers, e.requests, s.requests)
	testenv.Produce(t, e.kafka.Brokers, e.orders, s.orders)

	reg := prometheus.NewRegistry()
	cfg := e.config(e.pool, "", reg)
	run(t, cfg)
	// Every message is committed, the poison ones first in their partitions included.
	milestonetest.AwaitCommitted(t, e.kafka.Brokers, cfg.RequestGroup, e.requests, 3, int64(len(s.requests)), time.Minute)
	milestonetest.AwaitCommitted(t, e.kafka.Brokers, cfg.OrderGroup, e.orders, 2, int64(len(s.orders)), time.Minute)

	got := milestones(t, e.pool)
	assert.Equal(t, s.want(), got, "4xx, denied and 5xx requests, created and failed orders and later successes reach nothing")
	assert.Equal(t, 5, jobCount(t, e.pool), "one milestone_reached job per milestone")
	assert.Equal(t, 5.0, metric(t, reg, "steller_milestone_detector_milestones_recorded_total", nil))
	assert.Equal(t, float64(len(s.requests)), metric(t, reg, "steller_milestone_detector_events_read_total", map[string]string{"stream": "request_logs"}))
	assert.Equal(t, float64(len(s.orders)), metric(t, reg, "steller_milestone_detector_events_read_total", map[string]string{"stream": "order_events"}))
	skipped := func(stream, reason string) float64 {
		return metric(t, reg, "steller_milestone_detector_skipped_total", map[string]string{"stream": stream, "reason": reason})
	}
	assert.Equal(t, 1.0, skipped("request_logs", detector.ReasonInvalidJSON))
	assert.Equal(t, 1.0, skipped("request_logs", detector.ReasonUnsupportedVersion))
	assert.Equal(t, 1.0, skipped("request_logs", detector.ReasonUnknownPartner))
	assert.Equal(t, 1.0, skipped("order_events", detector.ReasonInvalidJSON))
	assert.Equal(t, 1.0, skipped("order_events", detector.ReasonInvalidEvent))
	assert.InDelta(t, float64(time.Now().Unix()), metric(t, reg, "steller_milestone_detector_last_event_timestamp_seconds",
		map[string]string{"stream": "request_logs"}), 120, "the last event's Kafka time")

	// A replay of both whole topics (new consumer groups: a second detector, or an
	// offset reset) records nothing and queues nothing.
	replayReg := prometheus.NewRegistry()
	replay := e.config(e.pool, "-replay", replayReg)
	run(t, replay)
	milestonetest.AwaitCommitted(t, e.kafka.Brokers, replay.RequestGroup, e.requests, 3, int64(len(s.requests)), time.Minute)
	milestonetest.AwaitCommitted(t, e.kafka.Brokers, replay.OrderGroup, e.orders, 2, int64(len(s.orders)), time.Minute)
	assert.Equal(t, got, milestones(t, e.pool))
	assert.Equal(t, 5, jobCount(t, e.pool))
	assert.Zero(t, metric(t, replayReg, "steller_milestone_detector_milestones_recorded_total", nil))
}

// While PostgreSQL is unreachable the detector commits nothing past what it wrote; once
// it is back, the same events are written and committed.
func TestOffsetsWaitForPostgresAndTheDetectorCatchesUp(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := partnertest.Seed(t, e.pool, "Before", false).PartnerID
	b := partnertest.Seed(t, e.pool, "During", false).PartnerID
	cfg0 := e.pool.Config().ConnConfig
	px := newProxy(t, net.JoinHostPort(cfg0.Host, strconv.Itoa(int(cfg0.Port))))
	reg := prometheus.NewRegistry()
	cfg := e.config(px.pool(e.pool), "", reg)
	run(t, cfg)

	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	testenv.Produce(t, e.kafka.Brokers, e.requests, []kafka.Message{milestonetest.Message(t, a, milestonetest.Call("req_before", a, "test", 200, at))})
	milestonetest.AwaitCommitted(t, e.kafka.Brokers, cfg.RequestGroup, e.requests, 3, 1, time.Minute)

	px.down()
	testenv.Produce(t, e.kafka.Brokers, e.requests, []kafka.Message{
		milestonetest.Message(t, b, milestonetest.Call("req_during", b, "test", 200, at.Add(time.Second))),
		milestonetest.Message(t, a, milestonetest.Call("req_other", a, "live", 200, at.Add(2*time.Second))),
	})
	// The condition, not a clock: the write of the new batch has failed twice.
	require.Eventually(t, func() bool {
		return metric(t, reg, "steller_milestone_detector_write_errors_total", map[string]string{"stream": "request_logs"}) >= 2
	}, time.Minute, 10*time.Millisecond)
	assert.Equal(t, int64(1), testenv.Committed(t, e.kafka.Brokers, cfg.RequestGroup, e.requests, 3), "offsets moved past an unwritten batch")
	assert.NotContains(t, milestones(t, e.pool), b)

	px.up()
	milestonetest.AwaitCommitted(t, e.kafka.Brokers, cfg.RequestGroup, e.requests, 3, 3, time.Minute)
	got := milestones(t, e.pool)
	require.Len(t, got[b], 1)
	assert.Equal(t, "req_during", got[b][0].EventID)
	assert.True(t, at.Add(time.Second).Equal(got[b][0].At))
	require.Len(t, got[a], 2)
	assert.Equal(t, "req_before", got[a][1].EventID) // first_sandbox_call, sorted after first_live_call
	assert.Equal(t, "req_other", got[a][0].EventID)
}

func TestConfigNeedsItsDependenciesAndTwoGroups(t *testing.T) {
	t.Parallel()
	_, err := detector.New(detector.Config{})
	require.Error(t, err)
	for _, want := range []string{"Brokers", "Pool", "Jobs"} {
		assert.Contains(t, err.Error(), want)
	}
	e := env{}
	cfg := e.config(nil, "", nil)
	cfg.OrderGroup = cfg.RequestGroup
	_, err = detector.New(cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "two consumer groups")
}
