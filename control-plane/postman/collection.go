// Package postman owns the Postman collections the docs offer: FromOpenAPI turns an OpenAPI
// 3.x document (JSON) into a Postman Collection v2.1, one request per operation in a folder
// per tag, so a partner can import the API into Postman instead of typing its requests.
// It reads the document with encoding/json alone and knows nothing of Steller's APIs.
package postman

// SchemaURL is the info.schema of a Postman Collection v2.1, by which Postman recognises the
// format on import.
const SchemaURL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

// Collection variables every generated collection declares.
const (
	// VarBaseURL is the variable each request's URL starts with: the document's first server.
	VarBaseURL = "baseUrl"
	// VarAPIKey is the variable the collection's auth sends: the caller's API key.
	VarAPIKey = "apiKey"
)

// Collection is a Postman Collection v2.1 (the parts FromOpenAPI writes).
type Collection struct {
	// Info names the collection and its format.
	Info Info `json:"info"`
	// Item are the folders (one per tag) and the requests of untagged operations.
	Item []Item `json:"item"`
	// Auth is how every request authenticates unless it says otherwise.
	Auth *Auth `json:"auth,omitempty"`
	// Variable are the collection's variables: VarBaseURL, and VarAPIKey when Auth uses it.
	Variable []Variable `json:"variable,omitempty"`
}

// Info is a collection's name, description and format.
type Info struct {
	// Name is the collection's name in Postman.
	Name string `json:"name"`
	// Description is Markdown.
	Description string `json:"description,omitempty"`
	// Schema is always SchemaURL.
	Schema string `json:"schema"`
}

// Item is a folder (Item set, Request nil) or a request (Request set).
type Item struct {
	// Name is the folder's tag, or the request's operation summary.
	Name string `json:"name"`
	// Description is a folder's tag description (Markdown); a request's is Request.Description.
	Description string `json:"description,omitempty"`
	// Item are a folder's requests.
	Item []Item `json:"item,omitempty"`
	// Request is a request item's request.
	Request *Request `json:"request,omitempty"`
}

// Request is one HTTP request.
type Request struct {
	// Method is the HTTP method, upper case.
	Method string `json:"method"`
	// Header are the operation's header parameters, and Content-Type with a body.
	Header []KeyValue `json:"header"`
	// Body is the example request body, if the operation takes one.
	Body *Body `json:"body,omitempty"`
	// URL is where the request goes.
	URL URL `json:"url"`
	// Description is the operation's description (Markdown).
	Description string `json:"description,omitempty"`
	// Auth overrides the collection's: noauth for an operation that needs none.
	Auth *Auth `json:"auth,omitempty"`
}

// Body is a raw request body.
type Body struct {
	// Mode is "raw".
	Mode string `json:"mode"`
	// Raw is the body's text.
	Raw string `json:"raw"`
	// Options say the raw text's language, for Postman's editor.
	Options *BodyOptions `json:"options,omitempty"`
}

// BodyOptions are a body's editor options.
type BodyOptions struct {
	// Raw holds the raw body's language.
	Raw struct {
		// Language is "json" for a JSON body.
		Language string `json:"language"`
	} `json:"raw"`
}

// URL is a request's address, whole and in parts.
type URL struct {
	// Raw is the whole address: {{baseUrl}}, the path with :name variables, and the
	// enabled query parameters.
	Raw string `json:"raw"`
	// Host is {{baseUrl}}.
	Host []string `json:"host"`
	// Path are the path's segments, a path parameter as :name.
	Path []string `json:"path"`
	// Query are the query parameters; optional ones are disabled until the user ticks them.
	Query []KeyValue `json:"query,omitempty"`
	// Variable are the path parameters' values.
	Variable []Variable `json:"variable,omitempty"`
}

// KeyValue is a header or a query parameter.
type KeyValue struct {
	// Key is its name.
	Key string `json:"key"`
	// Value is its example value, or "".
	Value string `json:"value"`
	// Description is the parameter's description.
	Description string `json:"description,omitempty"`
	// Disabled leaves an optional parameter out of the request until enabled.
	Disabled bool `json:"disabled,omitempty"`
}

// Variable is a collection or path variable.
type Variable struct {
	// Key is its name.
	Key string `json:"key"`
	// Value is its value, or "".
	Value string `json:"value"`
	// Type is "string".
	Type string `json:"type,omitempty"`
	// Description says what to put in it.
	Description string `json:"description,omitempty"`
}

// Auth is Postman's auth object: Type names the method, and the field of that name holds
// its attributes.
type Auth struct {
	// Type is "apikey", "bearer" or "noauth".
	Type string `json:"type"`
	// APIKey are an apikey auth's key (header or query parameter name), value and in.
	APIKey []Variable `json:"apikey,omitempty"`
	// Bearer is a bearer auth's token.
	Bearer []Variable `json:"bearer,omitempty"`
}
