package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/control-plane/audit"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/policies"
)

// UploadSources stores a new version built from source files (path to content, e.g.
// "steller/edge/edge.rego") and validates it at once. A version that fails validation
// is stored with StatusInvalid; input that is no policy tree is a validation error.
func (s *Service) UploadSources(ctx context.Context, p auth.Principal, description string, files map[string]string) (Version, error) {
	t, err := treeFromSources(files, s.limits())
	if err != nil {
		return Version{}, err
	}
	return s.upload(ctx, p, description, t, "sources")
}

// UploadBundle stores a new version from an OPA bundle (tar.gz) and validates it at once,
// like UploadSources.
func (s *Service) UploadBundle(ctx context.Context, p auth.Principal, description string, raw []byte) (Version, error) {
	if int64(len(raw)) > s.maxUpload {
		return Version{}, fault.Invalid("body", fmt.Sprintf("bundle is larger than %d bytes", s.maxUpload), len(raw))
	}
	t, err := treeFromUpload(raw, s.limits())
	if err != nil {
		return Version{}, err
	}
	return s.upload(ctx, p, description, t, "bundle")
}

func (s *Service) limits() limits { return limits{totalBytes: s.maxTree, files: MaxFiles} }

func (s *Service) upload(ctx context.Context, p auth.Principal, description string, t tree, form string) (Version, error) {
	if err := forbidden(t, form); err != nil {
		return Version{}, err
	}
	id, err := s.store.reserveVersionID(ctx)
	if err != nil {
		return Version{}, err
	}
	archive, val, err := s.build(ctx, t, id)
	if err != nil {
		return Version{}, err
	}
	digest := sha256.Sum256(archive)
	nv := newVersion{
		id: id, description: description, bundle: archive, digest: hex.EncodeToString(digest[:]),
		status: val.status, errMsg: val.errMsg, tests: val.tests, createdBy: p.ID, at: val.at,
	}
	err = pgx.BeginFunc(ctx, s.store.pool, func(tx pgx.Tx) error {
		if err := s.store.insertVersion(ctx, tx, nv); err != nil {
			return err
		}
		up := audit.FromPrincipal(p, AuditUploaded, strconv.FormatInt(id, 10))
		up.Details = map[string]any{"description": description, "digest": nv.digest, "size_bytes": len(archive), "files": len(t), "form": form}
		if err := audit.Record(ctx, tx, up); err != nil {
			return err
		}
		return audit.Record(ctx, tx, validatedEntry(p, id, val))
	})
	if err != nil {
		return Version{}, err
	}
	s.log.Info("policy version uploaded", "version", id, "status", val.status, "by", p.ID, "error", val.errMsg)
	return s.store.version(ctx, s.store.pool, id)
}

// build turns a tree into the stored archive of version id and validates it. The error
// is only for a caller that went away; a bad tree is an invalid validation.
func (s *Service) build(ctx context.Context, t tree, id int64) ([]byte, validation, error) {
	raw, err := buildBundle(t, revision(id))
	if err != nil {
		src, serr := sourceArchive(t)
		if serr != nil {
			return nil, validation{}, serr
		}
		return src, s.invalid(err), nil
	}
	val, err := s.validate(ctx, raw)
	return raw, val, err
}

// validate runs policies.ValidateBundle: read, Rego tests, compile, prepare, probe the
// edge decision. The error is only for a caller that went away.
func (s *Service) validate(ctx context.Context, raw []byte) (validation, error) {
	vctx, cancel := context.WithTimeout(ctx, validateTimeout)
	defer cancel()
	info, err := policies.ValidateBundle(vctx, bytes.NewReader(raw))
	if ctx.Err() != nil {
		return validation{}, ctx.Err()
	}
	if err != nil {
		return s.invalid(err), nil
	}
	tests := info.Tests
	return validation{status: StatusValid, tests: &tests, at: s.clock()}, nil
}

func (s *Service) invalid(err error) validation {
	msg := err.Error()
	if len(msg) > maxErrorChars {
		msg = msg[:maxErrorChars] + "…"
	}
	return validation{status: StatusInvalid, errMsg: msg, at: s.clock()}
}

func validatedEntry(p auth.Principal, id int64, val validation) audit.Entry {
	e := audit.FromPrincipal(p, AuditValidated, strconv.FormatInt(id, 10))
	e.Details = map[string]any{"status": string(val.status)}
	if val.errMsg != "" {
		e.Details["error"] = val.errMsg
	}
	if val.tests != nil {
		e.Details["rego_tests"] = *val.tests
	}
	return e
}

// Validate validates a stored version again and records the outcome. Re-validating the
// active version never deactivates it: activate another version or roll back instead.
func (s *Service) Validate(ctx context.Context, p auth.Principal, id int64) (Version, error) {
	raw, err := s.store.bundle(ctx, id)
	if err != nil {
		return Version{}, err
	}
	val, err := s.validate(ctx, raw)
	if err != nil {
		return Version{}, err
	}
	err = pgx.BeginFunc(ctx, s.store.pool, func(tx pgx.Tx) error {
		if err := s.store.updateValidation(ctx, tx, id, val); err != nil {
			return err
		}
		return audit.Record(ctx, tx, validatedEntry(p, id, val))
	})
	if err != nil {
		return Version{}, err
	}
	return s.store.version(ctx, s.store.pool, id)
}

// Activate makes a valid version the one edges are served. Activating the active version,
// or one that is not valid, is a conflict.
func (s *Service) Activate(ctx context.Context, p auth.Principal, id int64, reason string) (Activation, error) {
	var out Activation
	err := pgx.BeginFunc(ctx, s.store.pool, func(tx pgx.Tx) error {
		if err := s.store.lockActivations(ctx, tx); err != nil {
			return err
		}
		if err := s.requireValid(ctx, tx, id); err != nil {
			return err
		}
		cur, ok, err := s.store.current(ctx, tx)
		if err != nil {
			return err
		}
		next := Activation{VersionID: id, Kind: KindActivate, ActivatedBy: p.ID, ActivatedAt: s.clock(), Reason: reason}
		details := map[string]any{"reason": reason}
		if ok {
			if cur.VersionID == id {
				return fault.New(fault.ErrConflict, fmt.Sprintf("policy version %d is already active", id))
			}
			next.PreviousID = &cur.ID
			details["previous_version_id"] = cur.VersionID
		}
		if out, err = s.store.insertActivation(ctx, tx, next); err != nil {
			return err
		}
		details["activation_id"] = out.ID
		e := audit.FromPrincipal(p, AuditActivated, strconv.FormatInt(id, 10))
		e.Details = details
		return audit.Record(ctx, tx, e)
	})
	if err != nil {
		return Activation{}, err
	}
	s.activated(ctx, out)
	return out, nil
}

// Rollback re-activates the version that was active before the current activation,
// recording a new activation of kind rollback. Rollbacks walk back like a stack: after
// A, B, C two rollbacks serve B and then A. With nothing to go back to it is a conflict.
func (s *Service) Rollback(ctx context.Context, p auth.Principal, reason string) (Activation, error) {
	var out Activation
	err := pgx.BeginFunc(ctx, s.store.pool, func(tx pgx.Tx) error {
		if err := s.store.lockActivations(ctx, tx); err != nil {
			return err
		}
		cur, ok, err := s.store.current(ctx, tx)
		if err != nil {
			return err
		}
		if !ok {
			return fault.New(fault.ErrConflict, "no policy version was ever activated: nothing to roll back")
		}
		if cur.PreviousID == nil {
			return fault.New(fault.ErrConflict, fmt.Sprintf("version %d is the first activation: there is no earlier version to roll back to", cur.VersionID))
		}
		target, err := s.store.activation(ctx, tx, *cur.PreviousID)
		if err != nil {
			return err
		}
		if err := s.requireValid(ctx, tx, target.VersionID); err != nil {
			return err
		}
		next := Activation{
			VersionID: target.VersionID, Kind: KindRollback, ActivatedBy: p.ID,
			ActivatedAt: s.clock(), Reason: reason, PreviousID: target.PreviousID,
		}
		if out, err = s.store.insertActivation(ctx, tx, next); err != nil {
			return err
		}
		e := audit.FromPrincipal(p, AuditRolledBack, strconv.FormatInt(target.VersionID, 10))
		e.Details = map[string]any{"reason": reason, "from_version_id": cur.VersionID, "activation_id": out.ID}
		return audit.Record(ctx, tx, e)
	})
	if err != nil {
		return Activation{}, err
	}
	s.activated(ctx, out)
	return out, nil
}

// requireValid locks version id against a concurrent re-validation and demands it be valid.
func (s *Service) requireValid(ctx context.Context, tx pgx.Tx, id int64) error {
	st, err := s.store.versionStatusForShare(ctx, tx, id)
	if err != nil {
		return err
	}
	if st != StatusValid {
		return fault.New(fault.ErrConflict, fmt.Sprintf("policy version %d is %s: only a valid version can be activated", id, st))
	}
	return nil
}

// activated runs the OnActivate hook after a commit; its failure only delays this
// replica's refresh (the bundle server's LISTEN or interval catches up), so it is logged.
func (s *Service) activated(ctx context.Context, a Activation) {
	s.log.Info("policy version activated", "version", a.VersionID, "kind", a.Kind, "by", a.ActivatedBy, "reason", a.Reason)
	if s.onActivate == nil {
		return
	}
	// The change is committed: refresh even if the caller has gone away meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.onActivate(ctx); err != nil {
		s.log.Warn("refresh after policy activation failed", "version", a.VersionID, "error", err)
	}
}

// List returns a page of versions, newest first, and the cursor of the next page ("" at
// the end).
func (s *Service) List(ctx context.Context, cursor string, limit int) ([]Version, string, error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	list, err := s.store.versions(ctx, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = encodeCursor(list[limit-1].ID)
	}
	return list, next, nil
}

// Get returns a version with the files of its stored bundle, and their sources if asked.
func (s *Service) Get(ctx context.Context, id int64, withSources bool) (VersionDetail, error) {
	v, err := s.store.version(ctx, s.store.pool, id)
	if err != nil {
		return VersionDetail{}, err
	}
	raw, err := s.store.bundle(ctx, id)
	if err != nil {
		return VersionDetail{}, err
	}
	t, err := readArchive(raw, limits{totalBytes: 4 * s.maxTree, files: 4 * MaxFiles})
	if err != nil {
		return VersionDetail{}, fmt.Errorf("policy version %d: stored bundle: %w", id, err)
	}
	return VersionDetail{Version: v, Files: t.files(withSources)}, nil
}

// ActiveState says what edges are served: a version, or the embedded default policy when
// no version was ever activated.
type ActiveState struct {
	Source     string      `json:"source" enum:"version,default" doc:"version, or default when no version was ever activated."`
	Revision   string      `json:"revision" doc:"Revision edges report for the served bundle."`
	ETag       string      `json:"etag" doc:"ETag the bundle is served with."`
	Version    *Version    `json:"version,omitempty"`
	Activation *Activation `json:"activation,omitempty"`
}

// Active returns what edges are served now.
func (s *Service) Active(ctx context.Context) (ActiveState, error) {
	cur, ok, err := s.store.current(ctx, s.store.pool)
	if err != nil {
		return ActiveState{}, err
	}
	if !ok {
		rev := policies.DefaultRevision()
		return ActiveState{Source: "default", Revision: rev, ETag: quote(rev)}, nil
	}
	v, err := s.store.version(ctx, s.store.pool, cur.VersionID)
	if err != nil {
		return ActiveState{}, err
	}
	return ActiveState{Source: "version", Revision: v.Revision, ETag: quote(v.Digest), Version: &v, Activation: &cur}, nil
}

// Activations returns a page of the activation trail, newest first.
func (s *Service) Activations(ctx context.Context, cursor string, limit int) ([]Activation, string, error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	list, err := s.store.activations(ctx, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = encodeCursor(list[limit-1].ID)
	}
	return list, next, nil
}

// forbidden refuses a tree whose Rego calls a builtin that reaches outside the process
// (policies.ForbiddenBuiltins) with a validation error naming the builtin, the file and
// the line; nothing is stored. Edges refuse such a bundle too.
func forbidden(t tree, form string) error {
	sources := make(map[string]string, len(t))
	for path, raw := range t {
		sources[path] = string(raw)
	}
	var calls policies.ForbiddenCallsError
	if err := policies.CheckSources(sources); !errors.As(err, &calls) {
		return nil
	}
	field := "body"
	if form == "sources" {
		field = "body.files." + calls[0].File
	}
	return fault.Invalid(field, calls.Error(), calls[0].Builtin)
}
