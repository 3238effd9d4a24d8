package detector

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/control-plane/milestone"
)

func TestRequestDecisions(t *testing.T) {
	t.Parallel()
	const base = `"schema_version":1,"request_id":"req_1","partner_id":"ptr_1","timestamp_ms":1764000000123`
	reachedPartner := func(p []byte, n milestone.Name) bool {
		return string(p) == "ptr_done" && n == milestone.FirstSandboxCall
	}
	at := time.UnixMilli(1764000000123).UTC()
	for name, c := range map[string]struct {
		value  string
		want   milestone.Name
		reason string
	}{
		"200 test":              {`{` + base + `,"status":200,"decision":"allow","environment":"test"}`, milestone.FirstSandboxCall, ""},
		"299 live":              {`{` + base + `,"status":299,"decision":"allow","environment":"live"}`, milestone.FirstLiveCall, ""},
		"199":                   {`{` + base + `,"status":199,"decision":"allow","environment":"test"}`, "", ""},
		"300":                   {`{` + base + `,"status":300,"decision":"allow","environment":"test"}`, "", ""},
		"404":                   {`{` + base + `,"status":404,"decision":"allow","environment":"test"}`, "", ""},
		"denied":                {`{` + base + `,"status":200,"decision":"deny","environment":"test"}`, "", ""},
		"no key, no env":        {`{` + base + `,"status":200,"decision":"allow","environment":""}`, "", ""},
		"status as a string":    {`{` + base + `,"status":"200","decision":"allow","environment":"test"}`, "", ""},
		"already reached":       {`{"schema_version":1,"request_id":"r","partner_id":"ptr_done","timestamp_ms":1,"status":200,"decision":"allow","environment":"test"}`, "", ""},
		"reached sandbox, live": {`{"schema_version":1,"request_id":"req_1","partner_id":"ptr_done","timestamp_ms":1764000000123,"status":200,"decision":"allow","environment":"live"}`, milestone.FirstLiveCall, ""},
		"no partner":            {`{"schema_version":1,"request_id":"r","timestamp_ms":1,"status":200,"decision":"allow","environment":"test"}`, "", ReasonInvalidEvent},
		"no request id":         {`{"schema_version":1,"partner_id":"ptr_1","timestamp_ms":1,"status":200,"decision":"allow","environment":"test"}`, "", ReasonInvalidEvent},
		"no time":               {`{"schema_version":1,"request_id":"r","partner_id":"ptr_1","status":200,"decision":"allow","environment":"test"}`, "", ReasonInvalidEvent},
		"version 2":             {`{"schema_version":2,"request_id":"r","partner_id":"ptr_1","timestamp_ms":1,"status":200,"decision":"allow","environment":"test"}`, "", ReasonUnsupportedVersion},
		"not json":              {`{"schema_version":1,`, "", ReasonInvalidJSON},
		"an array":              {`[1,2]`, "", ReasonInvalidJSON},
	} {
		t.Run(name, func(t *testing.T) {
			d := requestStream.newDecider()
			r, ok, reason := d.decide([]byte(c.value), reachedPartner, &requestStream)
			assert.Equal(t, c.reason, reason)
			assert.Equal(t, c.want != "", ok)
			if c.want != "" {
				partner := "ptr_1"
				if name == "reached sandbox, live" {
					partner = "ptr_done"
				}
				assert.Equal(t, milestone.Reached{PartnerID: partner, Milestone: c.want, At: at, EventID: "req_1", Source: milestone.FromRequestLog}, r)
			}
		})
	}
}
