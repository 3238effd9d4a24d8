package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"testing/fstest"
	"time"

	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/policies"
)

// tree is a version's files by slash-separated path relative to the bundle root.
type tree map[string][]byte

// limits bound a tree: its total size and file count.
type limits struct {
	totalBytes int64
	files      int
}

// maxPathLen caps one file path.
const maxPathLen = 512

// checkPath says what is wrong with a file path of an upload, or "" when it is fine. A
// bundle holds Rego modules, data documents named data.json or data.yaml, and optionally a
// .manifest at its root; anything else (signatures, Wasm, stray files) is refused so the
// stored version is exactly what the engine reads.
func checkPath(p string) string {
	switch {
	case p == "":
		return "file path is empty"
	case len(p) > maxPathLen:
		return fmt.Sprintf("file path is longer than %d characters", maxPathLen)
	case p == ".manifest":
		return ""
	}
	if strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." {
		return "file path must be relative and clean (no leading /, no . or .. segments)"
	}
	for _, r := range p {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/", r)
		if !ok {
			return "file path may only contain letters, digits, '.', '_', '-' and '/'"
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if strings.HasPrefix(seg, ".") {
			return "file path segments cannot start with '.' (only the root .manifest may)"
		}
	}
	base := path.Base(p)
	if strings.HasSuffix(base, ".rego") || base == "data.json" || base == "data.yaml" || base == "data.yml" {
		return ""
	}
	return "a bundle holds only .rego files, data.json or data.yaml documents and a root .manifest"
}

// checkTree applies the upload rules to every file and demands at least one Rego module.
// field prefixes the problem's location ("body.files" or "body").
func checkTree(t tree, field string, keyed bool) error {
	hasRego := false
	for _, p := range t.paths() {
		if msg := checkPath(p); msg != "" {
			loc := field
			if keyed {
				loc = field + "." + p
			}
			return fault.Invalid(loc, fmt.Sprintf("%s: %s", p, msg), p)
		}
		if strings.HasSuffix(p, ".rego") {
			hasRego = true
		}
	}
	if !hasRego {
		return fault.Invalid(field, "a policy bundle needs at least one .rego file", nil)
	}
	return nil
}

// treeFromSources turns the JSON form of an upload (path to source text) into a tree.
func treeFromSources(files map[string]string, lim limits) (tree, error) {
	if len(files) == 0 {
		return nil, fault.Invalid("body.files", "files is empty: give at least one .rego file", nil)
	}
	if len(files) > lim.files {
		return nil, fault.Invalid("body.files", fmt.Sprintf("at most %d files", lim.files), len(files))
	}
	t := make(tree, len(files))
	var total int64
	for p, src := range files {
		if len(src) > maxFileBytes {
			return nil, fault.Invalid("body.files."+p, fmt.Sprintf("%s is larger than %d bytes", p, maxFileBytes), nil)
		}
		total += int64(len(src))
		t[p] = []byte(src)
	}
	if total > lim.totalBytes {
		return nil, fault.Invalid("body.files", fmt.Sprintf("files total more than %d bytes", lim.totalBytes), total)
	}
	if err := checkTree(t, "body.files", true); err != nil {
		return nil, err
	}
	return t, nil
}

// treeFromUpload reads an uploaded OPA bundle (tar.gz) into a tree and applies the
// upload rules. Anything that is not a readable tar.gz of policy files is a validation
// error on the body.
func treeFromUpload(raw []byte, lim limits) (tree, error) {
	t, err := readArchive(raw, lim)
	if err != nil {
		return nil, fault.Invalid("body", "not an OPA bundle: "+err.Error(), nil)
	}
	if err := checkTree(t, "body", false); err != nil {
		return nil, err
	}
	return t, nil
}

// readArchive reads the regular files of a tar.gz, enforcing the limits while it
// decompresses (so a gzip bomb stops at the limit). Leading "/" and "./" are dropped from
// names, as bundle writers add them.
func readArchive(raw []byte, lim limits) (tree, error) {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not a gzip stream: %w", err)
	}
	tr := tar.NewReader(zr)
	t := tree{}
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive: %w", err)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("%s: only regular files are allowed (no links or devices)", h.Name)
		}
		if h.Size > maxFileBytes {
			return nil, fmt.Errorf("%s is larger than %d bytes", name, maxFileBytes)
		}
		if total += h.Size; total > lim.totalBytes {
			return nil, fmt.Errorf("files total more than %d bytes", lim.totalBytes)
		}
		if len(t) >= lim.files {
			return nil, fmt.Errorf("more than %d files", lim.files)
		}
		if _, dup := t[name]; dup {
			return nil, fmt.Errorf("%s appears twice", name)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		t[name] = data
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(zr, 1)); err != nil {
		return nil, fmt.Errorf("corrupt gzip stream: %w", err)
	}
	return t, nil
}

// paths returns the tree's paths in order.
func (t tree) paths() []string {
	out := make([]string, 0, len(t))
	for p := range t {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// files lists the tree, with the sources when asked.
func (t tree) files(withSources bool) []BundleFile {
	out := make([]BundleFile, 0, len(t))
	for _, p := range t.paths() {
		f := BundleFile{Path: p, SizeBytes: int64(len(t[p]))}
		if withSources {
			f.Source = string(t[p])
		}
		out = append(out, f)
	}
	return out
}

// buildBundle writes the tree as an OPA bundle with the given manifest revision through
// policies.WriteBundle, which parses every module and data file on the way; a tree that
// does not parse is an error naming the file and line.
func buildBundle(t tree, rev string) ([]byte, error) {
	// fstest.MapFS is the standard library's in-memory fs.FS; WriteBundle reads a tree
	// through fs.FS and this one has no files on disk.
	mfs := make(fstest.MapFS, len(t))
	for p, data := range t {
		mfs[p] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	var buf bytes.Buffer
	if err := policies.WriteBundle(&buf, mfs, rev); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sourceArchive writes the tree as a plain, deterministic tar.gz: the stored form of a
// version whose files do not parse, so its sources stay readable. It is never served.
func sourceArchive(t tree) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, p := range t.paths() {
		h := &tar.Header{Name: p, Mode: 0o644, Size: int64(len(t[p])), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(t[p]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
