package workspace

// PageParams are the query parameters of every list operation (embedded in inputs).
type PageParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page; absent for the first page."`
}
