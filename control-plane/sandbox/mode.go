package sandbox

import (
	"fmt"
	"strings"
)

// Mode says which vendor a Vendor is: the sandbox of test keys, or the live vendor
// stand-in that local runs put behind live keys in place of the production gift-card API.
type Mode string

// The modes. The zero Mode is ModeSandbox.
const (
	// ModeSandbox serves test keys: fake USD balances, magic values, sandbox_* tables.
	ModeSandbox Mode = "sandbox"
	// ModeLive serves live keys as a stand-in for the production gift-card API: its own
	// live_* tables, no balance, no magic values, order events with environment live.
	ModeLive Mode = "live"
)

// EnvironmentLive is the only environment the live vendor stand-in serves.
const EnvironmentLive = "live"

// modeSpec is what differs between the modes; everything else is the same code.
type modeSpec struct {
	// environment is the X-Steller-Environment the vendor serves and its events carry.
	environment string
	// wrongEnvironment is the problem code of a request from another environment.
	wrongEnvironment string
	// magic: the magic values of the README's table force outcomes.
	magic bool
	// balance: orders are paid from sandbox_accounts and GET /v1/balance shows it.
	balance bool
	// cardPrefix and cardKey make the mode's fake card codes.
	cardPrefix string
	cardKey    []byte
	// sql holds the queries on the mode's own tables.
	sql queries
}

// liveCardKey is the public HMAC key of the live stand-in's fake card codes (LIV-…), apart
// from the sandbox's so a card names the vendor that made it.
var liveCardKey = []byte("steller-live-standin-card-v1")

var modes = map[Mode]modeSpec{
	ModeSandbox: {
		environment: EnvironmentTest, wrongEnvironment: codeNotSandbox, magic: true, balance: true,
		cardPrefix: "SBX", cardKey: cardKey,
		sql: newQueries("sandbox_orders", "sandbox_order_outbox", 7318345601),
	},
	ModeLive: {
		environment: EnvironmentLive, wrongEnvironment: codeNotLive,
		cardPrefix: "LIV", cardKey: liveCardKey,
		sql: newQueries("live_orders", "live_order_outbox", 7318345602),
	},
}

// specOf returns the spec of m, the zero Mode being ModeSandbox.
func specOf(m Mode) (modeSpec, error) {
	if m == "" {
		m = ModeSandbox
	}
	s, ok := modes[m]
	if !ok {
		return modeSpec{}, fmt.Errorf("sandbox: unknown Mode %q (want %q or %q)", m, ModeSandbox, ModeLive)
	}
	return s, nil
}

// queries are the vendor's SQL on one mode's tables. Every query that reads or writes a
// partner's data names the partner.
type queries struct {
	orderByKey, orderByID, insertOrder, insertOutbox, dueOrders, finishOrder string
	outboxLock, unsentEvents, markSent, pruneOutbox                          string
}

// newQueries fills the query templates with a mode's table names (fixed names of this
// package, never input) and the advisory lock key of its outbox publisher: each mode's
// publisher drains its own outbox without waiting for the other's.
func newQueries(orders, outbox string, lockKey int64) queries {
	r := strings.NewReplacer("{orders}", orders, "{outbox}", outbox, "{lock}", fmt.Sprint(lockKey))
	return queries{
		orderByKey:   r.Replace(orderByKeySQL),
		orderByID:    r.Replace(orderByIDSQL),
		insertOrder:  r.Replace(insertOrderSQL),
		insertOutbox: r.Replace(insertOutboxSQL),
		dueOrders:    r.Replace(dueOrdersSQL),
		finishOrder:  r.Replace(finishOrderSQL),
		outboxLock:   r.Replace(outboxLockSQL),
		unsentEvents: r.Replace(unsentEventsSQL),
		markSent:     r.Replace(markSentSQL),
		pruneOutbox:  r.Replace(pruneOutboxSQL),
	}
}
