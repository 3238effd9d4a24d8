package api

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/control-plane/sandbox"
)

// The OpenAPI documents the control plane serves, by name (steller openapi --api <name>):
// what a partner integrates with first, then what it manages its account with, then the
// platform admins' operations. Huma's own /openapi.json is the whole control plane
// (management and admin together), for tools that test every operation.
const (
	DocPartner      = "partner"
	DocManagement   = "management"
	DocAdmin        = "admin"
	DocControlPlane = "control-plane"
)

// DocNames are the documents in the order the docs page presents them.
var DocNames = []string{DocPartner, DocManagement, DocAdmin, DocControlPlane}

// errorsNote ends each document's description.
const errorsNote = "Errors are RFC 9457 problem documents with a stable code and the request id."

// adminPrefix starts every platform-admin operation's path.
const adminPrefix = "/v1/admin/"

// DocPath is the stable URL path of the document name.
func DocPath(name string) string {
	if name == DocControlPlane {
		return "/openapi.json"
	}
	return "/openapi/" + name + ".json"
}

// Document returns the OpenAPI document name: the partner API's (the gift-card API behind
// the edge, sandbox.PartnerOpenAPI), or a view of the control plane's operations.
func (a *API) Document(name string) (*huma.OpenAPI, error) {
	full := a.huma.OpenAPI()
	var keep func(path string) bool
	switch name {
	case DocPartner:
		return sandbox.PartnerOpenAPI(full.Info.Version), nil
	case DocControlPlane:
		return full, nil
	case DocManagement:
		keep = func(path string) bool { return !strings.HasPrefix(path, adminPrefix) }
	case DocAdmin:
		keep = func(path string) bool { return strings.HasPrefix(path, adminPrefix) }
	default:
		return nil, fmt.Errorf("no OpenAPI document %q; the documents are %s", name, strings.Join(DocNames, ", "))
	}
	view := *full
	info := *full.Info
	view.Info = &info
	view.Paths = map[string]*huma.PathItem{}
	used := map[string]bool{}
	for path, item := range full.Paths {
		if !keep(path) {
			continue
		}
		view.Paths[path] = item
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op != nil {
				for _, tag := range op.Tags {
					used[tag] = true
				}
			}
		}
	}
	view.Tags = nil
	for _, tag := range full.Tags {
		if used[tag.Name] {
			view.Tags = append(view.Tags, tag)
		}
	}
	switch name {
	case DocManagement:
		info.Title = "Steller management API"
		info.Description = "What a partner's team manages its account with: sign-up and sessions, the workspace and its members, " +
			"API keys, webhooks, request logs and usage. " + errorsNote
	case DocAdmin:
		info.Title = "Steller admin API"
		info.Description = "Platform admins' operations: partners, live approval, policies, audit and analytics across partners. " +
			"They need a platform-admin session. " + errorsNote
	}
	return &view, nil
}

// openAPIContentType is the media type the OpenAPI documents are served as.
const openAPIContentType = "application/openapi+json"

// registerOpenAPIDocs serves the named documents at their DocPath (Huma serves the
// control-plane one itself), and the API reference's downloads (registerDownloads).
func (a *API) registerOpenAPIDocs() {
	for _, name := range DocNames {
		if name == DocControlPlane {
			continue
		}
		a.serveJSON(DocPath(name), openAPIContentType, "", func() ([]byte, error) { return a.documentJSON(name) })
	}
	a.registerDownloads()
}

// documentJSON is the document name, encoded.
func (a *API) documentJSON(name string) ([]byte, error) {
	doc, err := a.Document(name)
	if err != nil {
		return nil, err
	}
	return doc.MarshalJSON()
}

// serveJSON serves what build makes at path as contentType; as an attachment named
// filename unless that is "". build works on documents fixed at build time, so a failure
// is a bug: logged, and answered with a 500 problem.
func (a *API) serveJSON(path, contentType, filename string, build func() ([]byte, error)) {
	a.mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		raw, err := build()
		if err != nil {
			a.log.ErrorContext(r.Context(), "api: encode a document", "path", path, "err", err)
			problem.Write(w, problem.New(http.StatusInternalServerError, problem.StatusCode(http.StatusInternalServerError),
				"Internal Server Error", "the document could not be encoded", ""))
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if filename != "" {
			w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
		}
		_, _ = w.Write(raw)
	})
}
