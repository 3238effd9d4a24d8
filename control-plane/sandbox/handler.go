package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/control-plane/ident"
)

// HeaderIdempotencyKey names the idempotency key of POST /v1/orders.
const HeaderIdempotencyKey = "Idempotency-Key"

// HeaderReplayed is set to "true" on a response that replays an earlier order.
const HeaderReplayed = "Idempotent-Replayed"

// caller is the identity the edge vouched for.
type caller struct {
	partnerID, workspaceID, keyID, requestID string
}

func (v *Vendor) routes() *http.ServeMux {
	mux := http.NewServeMux()
	byPath := map[string]map[string]handlerFunc{}
	var paths []string
	for _, op := range operations {
		if byPath[op.path] == nil {
			byPath[op.path] = map[string]handlerFunc{}
			paths = append(paths, op.path)
		}
		byPath[op.path][op.method] = func(w http.ResponseWriter, r *http.Request, c caller) { op.serve(v, w, r, c) }
	}
	for _, path := range paths {
		mux.Handle(path, v.identified(byPath[path]))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		v.writeProblem(w, r.Header.Get(identity.HeaderRequestID), codeNotFound, "No such path in the partner API.", nil)
	})
	return mux
}

// handlerFunc serves one method of a path for an identified caller.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c caller)

// identified refuses requests the edge did not sign (or signed for another request, or
// too long ago), without the edge's identity headers, or not in the mode's environment
// (test for the sandbox, live for the live stand-in), then dispatches on the method (405
// problem otherwise).
func (v *Vendor) identified(methods map[string]handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.cfg.Verifier.VerifyRequest(r)
		if err != nil {
			requestID := ""
			if identity.ValidClientRequestID(id.RequestID) {
				requestID = id.RequestID
			}
			problem.Write(w, edgesign.Problem(err, requestID))
			return
		}
		c := caller{partnerID: id.PartnerID, workspaceID: id.WorkspaceID, keyID: id.KeyID, requestID: id.RequestID}
		env := id.Environment
		if c.partnerID == "" || c.workspaceID == "" || env == "" {
			v.writeProblem(w, c.requestID, codeMissingIdentity, "", nil)
			return
		}
		if env != v.mode.environment {
			v.writeProblem(w, c.requestID, v.mode.wrongEnvironment, "", nil)
			return
		}
		h, ok := methods[r.Method]
		if !ok {
			w.Header().Set("Allow", strings.Join(slices.Sorted(maps.Keys(methods)), ", "))
			v.writeProblem(w, c.requestID, codeMethodNotAllowed, "", nil)
			return
		}
		h(w, r, c)
	})
}

func (v *Vendor) getCatalog(w http.ResponseWriter, _ *http.Request, _ caller) {
	writeJSON(w, http.StatusOK, CatalogPage{Products: catalogFor(v.mode.magic)})
}

// getBalance shows the sandbox's fake balance. The live stand-in holds no money, so it has
// no balance to show and says so, rather than invent a figure.
func (v *Vendor) getBalance(w http.ResponseWriter, r *http.Request, c caller) {
	if !v.mode.balance {
		v.writeProblem(w, c.requestID, codeNoBalance, "", nil)
		return
	}
	cents, currency, err := v.balance(r.Context(), c.partnerID)
	if err != nil {
		v.internal(w, c, err)
		return
	}
	writeJSON(w, http.StatusOK, Balance{BalanceCents: cents, Currency: currency})
}

func (v *Vendor) getOrder(w http.ResponseWriter, r *http.Request, c caller) {
	id := r.PathValue("id")
	if !ident.Valid("ord", id) {
		v.writeProblem(w, c.requestID, codeOrderNotFound, "", nil)
		return
	}
	o, ok, err := getOrder(r.Context(), v.pool, v.mode.sql.orderByID, c.partnerID, id)
	if err != nil {
		v.internal(w, c, err)
		return
	}
	if !ok {
		v.writeProblem(w, c.requestID, codeOrderNotFound, "", nil)
		return
	}
	writeJSON(w, http.StatusOK, o.order(v.mode))
}

func (v *Vendor) createOrder(w http.ResponseWriter, r *http.Request, c caller) {
	key := r.Header.Get(HeaderIdempotencyKey)
	if key == "" || len(key) > maxIdempotencyKey {
		v.writeProblem(w, c.requestID, codeIdempotencyKey, "", nil)
		return
	}
	req, ferrs := decodeOrder(w, r)
	if ferrs != nil {
		v.writeProblem(w, c.requestID, codeValidation, "", ferrs)
		return
	}
	if ferrs := req.validate(v.mode.magic); len(ferrs) > 0 {
		v.writeProblem(w, c.requestID, codeValidation, "", ferrs)
		return
	}
	ctx := r.Context()
	hash := req.hash()
	// A retry is answered from the stored order, whatever the balance is now.
	if v.replay(ctx, w, c, key, hash) {
		return
	}
	if v.mode.magic && req.ProductID == ProductInsufficient {
		v.writeProblem(w, c.requestID, codeInsufficient, "The product "+ProductInsufficient+" is always refused with insufficient_balance.", nil)
		return
	}
	now := v.now()
	outcome := plannedOutcome(req.AmountCents, v.mode.magic)
	delay := v.cfg.CompletionDelay
	if outcome == reasonTimeout {
		delay = v.cfg.TimeoutDelay
	}
	row := orderRow{
		ID: ident.New("ord"), PartnerID: c.partnerID, WorkspaceID: c.workspaceID, KeyID: c.keyID, RequestID: c.requestID,
		IdempotencyKey: key, RequestHash: hash, ProductID: req.ProductID, AmountCents: req.AmountCents, Currency: Currency,
		Recipient: req.Recipient, Metadata: req.Metadata, Status: StatusPending, PlannedOutcome: outcome,
		CompleteAfter: now.Add(delay), CreatedAt: now,
	}
	inserted, err := v.insertOrder(ctx, row)
	switch {
	case errors.Is(err, errInsufficient):
		// A concurrent request with the same key may have spent the balance on this very
		// order: then it is a replay, not a refusal.
		if !v.replay(ctx, w, c, key, hash) {
			v.writeProblem(w, c.requestID, codeInsufficient, "", nil)
		}
	case err != nil:
		v.internal(w, c, err)
	case !inserted:
		if !v.replay(ctx, w, c, key, hash) {
			v.internal(w, c, errors.New("sandbox: idempotency key taken but no order found"))
		}
	default:
		v.nudge()
		writeJSON(w, http.StatusCreated, row.order(v.mode))
	}
}

// replay answers with the order already created under key, if there is one: 200 with the
// order when the request is the same, a problem when it differs. It reports whether it
// answered.
func (v *Vendor) replay(ctx context.Context, w http.ResponseWriter, c caller, key string, hash []byte) bool {
	o, ok, err := getOrder(ctx, v.pool, v.mode.sql.orderByKey, c.partnerID, key)
	if err != nil {
		v.internal(w, c, err)
		return true
	}
	if !ok {
		return false
	}
	if !bytes.Equal(o.RequestHash, hash) {
		v.writeProblem(w, c.requestID, codeKeyReused, "", nil)
		return true
	}
	w.Header().Set(HeaderReplayed, "true")
	writeJSON(w, http.StatusOK, o.order(v.mode))
	return true
}

// decodeOrder reads a JSON body that must hold one object with known fields only.
func decodeOrder(w http.ResponseWriter, r *http.Request) (OrderRequest, []problem.FieldError) {
	var req OrderRequest
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return req, []problem.FieldError{{Location: "body", Message: "the body is larger than 64 KiB"}}
	}
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err = dec.Decode(&req); err == nil {
			if _, extra := dec.Token(); extra != io.EOF {
				err = errors.New("the body must hold exactly one JSON object")
			}
		}
	}
	if err != nil {
		return req, []problem.FieldError{{Location: "body", Message: "invalid JSON body: " + err.Error()}}
	}
	// A null metadata value would decode as "": the schema says values are strings.
	var values struct {
		Metadata map[string]*string `json:"metadata"`
	}
	_ = json.Unmarshal(raw, &values) // it decoded as OrderRequest above
	for k, v := range values.Metadata {
		if v == nil {
			return req, []problem.FieldError{{Location: "body.metadata." + k, Message: "must be a string, not null"}}
		}
	}
	return req, nil
}

func (v *Vendor) internal(w http.ResponseWriter, c caller, err error) {
	v.logger.Error("sandbox: request failed", "err", err, "partner_id", c.partnerID, "request_id", c.requestID)
	v.writeProblem(w, c.requestID, codeInternal, "", nil)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
