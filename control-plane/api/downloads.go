package api

import (
	"encoding/json"

	"github.com/steller/platform/control-plane/postman"
)

// PostmanCollectionPath is where the API reference offers the partner API as a Postman
// Collection v2.1, made from the partner document by postman.FromOpenAPI.
const PostmanCollectionPath = "/docs/api/partner.postman_collection.json"

// DownloadDocs are the documents the API reference offers for download: what a partner
// integrates with and what it manages its account with.
var DownloadDocs = []string{DocPartner, DocManagement}

// DownloadPath is the path under the API reference at which the document name downloads.
func DownloadPath(name string) string { return "/docs/api/" + name + ".openapi.json" }

// Downloads are every file the API reference offers for download, in the order it lists
// them: the DownloadDocs, then the Postman collection.
func Downloads() []string {
	out := make([]string, 0, len(DownloadDocs)+1)
	for _, name := range DownloadDocs {
		out = append(out, DownloadPath(name))
	}
	return append(out, PostmanCollectionPath)
}

// registerDownloads serves the API reference's downloads as attachments named for Steller
// (a downloads folder holds files from many APIs): the documents as at their DocPath, and
// the Postman collection as JSON.
func (a *API) registerDownloads() {
	for _, name := range DownloadDocs {
		a.serveJSON(DownloadPath(name), openAPIContentType, "steller-"+name+".openapi.json",
			func() ([]byte, error) { return a.documentJSON(name) })
	}
	a.serveJSON(PostmanCollectionPath, "application/json", "steller-partner.postman_collection.json", a.postmanCollection)
}

// postmanCollection is the partner API's Postman collection, indented like the exports
// Postman writes.
func (a *API) postmanCollection() ([]byte, error) {
	raw, err := a.documentJSON(DocPartner)
	if err != nil {
		return nil, err
	}
	c, err := postman.FromOpenAPI(raw)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(c, "", "  ")
}
