package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/api/apitest"
)

type thingQuery struct {
	To   time.Time `query:"to"`
	Name string    `query:"name" pattern:"^[a-z]+$"`
	Note string    `query:"note" maxLength:"10"`
}

// ThingBody is a test body with a required list and optional fields.
type ThingBody struct {
	Tags  []string `json:"tags" minItems:"1"`
	Label string   `json:"label,omitempty" maxLength:"10"`
	Size  *int     `json:"size,omitempty" minimum:"1"`
}

type thingOut struct {
	Body struct {
		Label string `json:"label"`
		Size  *int   `json:"size"`
	}
}

// registerThings adds test operations beside the API's own: a literal path beside a
// parameterised one, a query with an empty-intolerant parameter, a body with optionals.
func registerThings(t *testing.T, env *apitest.Env) {
	t.Helper()
	h := env.API.Huma()
	huma.Register(h, huma.Operation{OperationID: "get-thing", Method: http.MethodGet, Path: "/v1/things/{id}"},
		func(context.Context, *struct {
			ID string `path:"id" maxLength:"20"`
		}) (*thingOut, error) {
			return &thingOut{}, nil
		})
	huma.Register(h, huma.Operation{OperationID: "sort-things", Method: http.MethodPost, Path: "/v1/things/sort"},
		func(context.Context, *struct{}) (*thingOut, error) { return &thingOut{}, nil })
	huma.Register(h, huma.Operation{OperationID: "list-things", Method: http.MethodGet, Path: "/v1/things"},
		func(context.Context, *thingQuery) (*thingOut, error) { return &thingOut{}, nil })
	huma.Register(h, huma.Operation{OperationID: "make-thing", Method: http.MethodPost, Path: "/v1/things"},
		func(_ context.Context, in *struct{ Body ThingBody }) (*thingOut, error) {
			out := &thingOut{}
			out.Body.Label, out.Body.Size = in.Body.Label, in.Body.Size
			return out, nil
		})
}

func TestALiteralPathRefusesTheMethodsItDoesNotDeclare(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	registerThings(t, env)
	r := env.Do(http.MethodGet, "/v1/things/sort", "", nil)
	require.Equal(t, http.StatusMethodNotAllowed, r.Status, "GET /v1/things/{id} must not take the literal path: %s", r.Body)
	assert.Equal(t, http.MethodPost, r.Header.Get("Allow"))
	assert.Equal(t, "method_not_allowed", r.JSON(t)["code"])
	assert.Equal(t, http.StatusOK, env.Do(http.MethodPost, "/v1/things/sort", "", nil).Status)
	assert.Equal(t, http.StatusOK, env.Do(http.MethodGet, "/v1/things/other", "", nil).Status)
}

func TestAnEmptyQueryValueIsRefusedWhereTheSchemaForbidsIt(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	registerThings(t, env)
	for _, q := range []string{"to=", "name=", "to=&note=x"} {
		r := env.Do(http.MethodGet, "/v1/things?"+q, "", nil)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, q)
		assert.Contains(t, string(r.Body), "must not be empty", q)
	}
	assert.Equal(t, http.StatusOK, env.Do(http.MethodGet, "/v1/things?note=", "", nil).Status, "a free-text value may be empty")
	assert.Equal(t, http.StatusOK, env.Do(http.MethodGet, "/v1/things?name=abc&to=2026-01-02T00:00:00Z", "", nil).Status)
}

func TestNullIsAbsentInOptionalFieldsAndRefusedInRequiredOnes(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	registerThings(t, env)
	r := env.Do(http.MethodPost, "/v1/things", "", `{"tags":["a"],"label":null,"size":null}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	body := r.JSON(t)
	assert.Equal(t, "", body["label"])
	assert.Nil(t, body["size"])
	r = env.Do(http.MethodPost, "/v1/things", "", `{"tags":null}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)

	raw, err := env.API.Huma().OpenAPI().Components.Schemas.Map()["ThingBody"].MarshalJSON()
	require.NoError(t, err)
	var schema struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(raw, &schema))
	assert.Equal(t, []any{"string", "null"}, schema.Properties["label"].Type, "the document says null is accepted")
	assert.Equal(t, []any{"integer", "null"}, schema.Properties["size"].Type)
	assert.Equal(t, "array", schema.Properties["tags"].Type, "a required list is never null")
}
