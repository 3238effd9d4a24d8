package policies

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// embedded holds the default policy tree. Its layout is a bundle's layout: Rego files and
// the data.json beside them, whose directory names its place under data.
//
//go:embed rego
var embedded embed.FS

// maxBundleFileBytes caps any single file inside a bundle archive.
const maxBundleFileBytes = 4 << 20

// DefaultSource returns the embedded default policy tree (Rego, Rego tests and data.json)
// laid out as a bundle directory, for callers that build or store bundles from it.
func DefaultSource() fs.FS {
	sub, err := fs.Sub(embedded, "rego")
	if err != nil {
		// fs.Sub only fails on an invalid path, and "rego" is a constant.
		panic(err)
	}
	return sub
}

// WriteBundle writes the policy tree src as an OPA bundle (tar.gz) with the given revision
// in its manifest. The control plane serves bundles built this way; the engine reads them
// with LoadBundle.
func WriteBundle(w io.Writer, src fs.FS, revision string) error {
	b, err := bundle.NewCustomReader(bundle.NewFSLoaderWithRoot(src, ".")).
		WithRegoVersion(ast.RegoV1).
		WithSizeLimitBytes(maxBundleFileBytes).
		Read()
	if err != nil {
		return fmt.Errorf("read policy tree: %w", err)
	}
	b.Manifest.Revision = revision
	b.Manifest.SetRegoVersion(ast.RegoV1)
	if err := bundle.NewWriter(w).Write(b); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// WriteDefaultBundle writes the embedded default policy as an OPA bundle (tar.gz). An empty
// revision stands for DefaultRevision().
func WriteDefaultBundle(w io.Writer, revision string) error {
	if revision == "" {
		revision = DefaultRevision()
	}
	return WriteBundle(w, DefaultSource(), revision)
}

// DefaultRevision names the embedded default policy: "embedded-" and a digest of its files,
// so two builds with the same policy report the same revision.
func DefaultRevision() string {
	h := sha256.New()
	err := fs.WalkDir(DefaultSource(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(DefaultSource(), path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(raw))
		h.Write(raw)
		return nil
	})
	if err != nil {
		// The embedded tree is read-only and was readable at build time.
		panic(err)
	}
	return "embedded-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// defaultBundle builds the embedded default as a parsed bundle by the same path a served
// bundle takes, so the default is checked exactly like any other bundle.
func defaultBundle() ([]byte, error) {
	var buf bytes.Buffer
	if err := WriteDefaultBundle(&buf, ""); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readBundle parses an OPA bundle archive. Only snapshot bundles with Rego and data are
// accepted: delta bundles, Wasm and plan modules are not supported by this engine.
func readBundle(r io.Reader) (*bundle.Bundle, error) {
	b, err := bundle.NewCustomReader(bundle.NewTarballLoaderWithBaseURL(r, "")).
		WithRegoVersion(ast.RegoV1).
		WithSizeLimitBytes(maxBundleFileBytes).
		Read()
	if err != nil {
		return nil, err
	}
	if b.Type() != bundle.SnapshotBundleType {
		return nil, fmt.Errorf("bundle type %q is not supported", b.Type())
	}
	if len(b.WasmModules) > 0 || len(b.PlanModules) > 0 {
		return nil, fmt.Errorf("wasm and plan modules are not supported")
	}
	if len(b.Modules) == 0 {
		return nil, fmt.Errorf("bundle has no Rego modules")
	}
	sort.Slice(b.Modules, func(i, j int) bool { return b.Modules[i].Path < b.Modules[j].Path })
	return &b, nil
}
