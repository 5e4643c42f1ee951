package stats

import (
	"context"
	"io"
	"net/url"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
)

// CONTRACT STUB: the signatures are fixed; the engine is being written.

// Service answers queries.
type Service struct{}

// Run answers q for by: a district officer's query is limited to their
// district; an unknown dimension or measure, or more than MaxDims, is a
// field error in Chinese.
func (s *Service) Run(ctx context.Context, by actor.Actor, q Query) (*Result, error) {
	return nil, apperr.New(apperr.Invalid, "统计尚未就绪")
}

// Dimensions lists every dimension with its values.
func (s *Service) Dimensions() []DimInfo { return nil }

// Suppress returns a copy of r fit to leave the office: every cell counted
// below `below` hidden, and further cells hidden so that no hidden figure
// can be computed back from the totals.
func Suppress(r *Result, below int) *Result { return r }

// WriteCSV writes r as a CSV table (Chinese headers; a hidden value as
// "<N").
func WriteCSV(w io.Writer, r *Result) error { return nil }

// WriteExcel writes r as an Excel workbook: Chinese headers, frozen header
// row, number formats.
func WriteExcel(w io.Writer, r *Result) error { return nil }

// ParseQuery reads a query from a form or URL query: dims=a,b (or dims
// repeated), measures=count,mean:total, and a filter per dimension as
// f.<dim>=code (repeated for several codes). Unknown names are field
// errors in Chinese.
func ParseQuery(v url.Values) (Query, error) { return Query{}, nil }

// Values is q as ParseQuery reads it (for links and saved queries).
func (q Query) Values() url.Values { return url.Values{} }
