// Package policy owns policy management for platform teams: policy versions (OPA bundles)
// uploaded to the control plane, their validation (compile and Rego tests), activation and
// rollback with an audit trail, the admin API over them, and the bundle endpoint from
// which every edge's policies.Poller loads the active version.
//
// Decisions worth knowing:
//   - Uploading validates at once, so the upload's answer says whether the version is
//     valid. A bundle that is valid OPA but fails compilation, its Rego tests or the edge
//     decision probe is stored with status "invalid" and its error (201): the team sees why.
//     Input that is not a policy tree at all (not gzip or tar, no Rego file, unsafe paths,
//     over the limits) is refused with a 422 and nothing is stored.
//   - Every version is rebuilt with policies.WriteBundle with the manifest revision
//     "policy-<id>", so an edge reports which version it runs. A tree that does not even
//     parse is kept as a plain tar.gz of its files (status invalid) so its sources can be read.
//   - Only a valid version can be activated; rollback re-activates the version that was
//     active before the current activation, as a stack (two rollbacks go back two steps).
//   - Activations are serialised with a transaction-scoped advisory lock and announced with
//     NOTIFY on the channel "policy_activations".
package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Status is the validation state of a policy version.
type Status string

// Statuses of a policy version.
const (
	// StatusUploaded: stored but not validated yet.
	StatusUploaded Status = "uploaded"
	// StatusValid: compiled, passed its Rego tests and yields an edge decision.
	StatusValid Status = "valid"
	// StatusInvalid: refused by validation; ValidationError says why.
	StatusInvalid Status = "invalid"
)

// Kinds of activation in the trail.
const (
	// KindActivate is an activation asked for by version id.
	KindActivate = "activate"
	// KindRollback is a rollback to the version active before the current activation.
	KindRollback = "rollback"
)

// Audit actions written by this package.
const (
	// AuditUploaded: a version was uploaded (details: description, digest, size, files).
	AuditUploaded = "policy.uploaded"
	// AuditValidated: a version was validated (details: status, error, rego_tests).
	AuditValidated = "policy.validated"
	// AuditActivated: a version was activated (details: reason, previous_version_id).
	AuditActivated = "policy.activated"
	// AuditRolledBack: a rollback re-activated the target version (details: reason, from_version_id).
	AuditRolledBack = "policy.rolled_back"
)

// Limits on an upload, used when Config leaves them zero.
const (
	// DefaultMaxUploadBytes caps an upload's request body (JSON sources or tar.gz).
	DefaultMaxUploadBytes = 4 << 20
	// DefaultMaxTreeBytes caps the total size of a version's files once decompressed.
	DefaultMaxTreeBytes = 16 << 20
	// MaxFiles caps the number of files in a version.
	MaxFiles = 500
	// maxFileBytes caps one file, as the policies package does inside a bundle.
	maxFileBytes = 4 << 20
	// maxErrorChars caps the validation error stored with a version.
	maxErrorChars = 8000
	// validateTimeout bounds one validation (Rego tests and compilation).
	validateTimeout = 60 * time.Second
)

// Version is one uploaded policy version, without its bundle bytes.
type Version struct {
	ID              int64      `json:"id" doc:"Version id."`
	Description     string     `json:"description" doc:"What the version changes, as given at upload."`
	Revision        string     `json:"revision" doc:"Bundle manifest revision, policy-<id>; edges report it."`
	Digest          string     `json:"digest" doc:"SHA-256 (hex) of the stored bundle; the ETag edges see."`
	SizeBytes       int64      `json:"size_bytes" doc:"Size of the stored bundle (tar.gz)."`
	Status          Status     `json:"status" enum:"uploaded,valid,invalid" doc:"Validation status."`
	ValidationError string     `json:"validation_error,omitempty" doc:"Why validation refused the version."`
	RegoTests       int        `json:"rego_tests" doc:"Rego tests run by the last successful validation."`
	CreatedBy       string     `json:"created_by" doc:"Admin who uploaded it."`
	CreatedAt       time.Time  `json:"created_at"`
	ValidatedAt     *time.Time `json:"validated_at,omitempty"`
	Active          bool       `json:"active" doc:"Whether this is the version edges are served now."`
}

// BundleFile is one file of a version's bundle.
type BundleFile struct {
	Path      string `json:"path" doc:"Path inside the bundle, e.g. steller/edge/edge.rego."`
	SizeBytes int64  `json:"size_bytes"`
	Source    string `json:"source,omitempty" doc:"The file's content, when sources were asked for."`
}

// VersionDetail is a version with the files of its bundle.
type VersionDetail struct {
	Version
	Files []BundleFile `json:"files"`
}

// Activation is one row of the activation trail; the newest is the active version.
type Activation struct {
	ID          int64     `json:"id"`
	VersionID   int64     `json:"version_id"`
	Kind        string    `json:"kind" enum:"activate,rollback"`
	ActivatedBy string    `json:"activated_by"`
	ActivatedAt time.Time `json:"activated_at"`
	Reason      string    `json:"reason"`
	// PreviousID is the activation a rollback of this one returns to.
	PreviousID *int64 `json:"previous_id,omitempty" doc:"The activation a rollback of this one returns to."`
}

// Config holds the Service's dependencies and limits.
type Config struct {
	// Pool is the control plane's database. Required.
	Pool *pgxpool.Pool
	// Logger receives validation outcomes and hook failures. Required.
	Logger *slog.Logger
	// Clock stamps uploads, validations and activations; time.Now when nil.
	Clock func() time.Time
	// MaxUploadBytes caps an upload's body; DefaultMaxUploadBytes when zero.
	MaxUploadBytes int64
	// MaxTreeBytes caps a version's decompressed files; DefaultMaxTreeBytes when zero.
	MaxTreeBytes int64
	// OnActivate, when set, runs after an activation or rollback commits; pass the
	// BundleServer's Refresh so this replica serves the new version at once.
	OnActivate func(ctx context.Context) error
}

// Service manages policy versions. It is safe for concurrent use.
type Service struct {
	store      *store
	log        *slog.Logger
	clock      func() time.Time
	maxUpload  int64
	maxTree    int64
	onActivate func(ctx context.Context) error
}

// NewService checks cfg and returns a Service.
func NewService(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Pool == nil {
		errs = append(errs, errors.New("policy: Pool is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("policy: Logger is required"))
	}
	if cfg.MaxUploadBytes < 0 || cfg.MaxTreeBytes < 0 {
		errs = append(errs, errors.New("policy: MaxUploadBytes and MaxTreeBytes cannot be negative"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("policy: config: %w", errors.Join(errs...))
	}
	s := &Service{
		store:      &store{pool: cfg.Pool},
		log:        cfg.Logger,
		clock:      cfg.Clock,
		maxUpload:  cfg.MaxUploadBytes,
		maxTree:    cfg.MaxTreeBytes,
		onActivate: cfg.OnActivate,
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.maxUpload == 0 {
		s.maxUpload = DefaultMaxUploadBytes
	}
	if s.maxTree == 0 {
		s.maxTree = DefaultMaxTreeBytes
	}
	return s, nil
}

// MaxUploadBytes is the largest upload body the Service accepts.
func (s *Service) MaxUploadBytes() int64 { return s.maxUpload }

// revision is the manifest revision of version id.
func revision(id int64) string { return fmt.Sprintf("policy-%d", id) }
