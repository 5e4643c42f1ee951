// Package rules is the scoring engine of Beijing's points-based hukou scheme
// (北京市积分落户): versioned rulebooks, eligibility, the ten indicators with
// explanations in Chinese, and the JSON contract of the public calculator
// (积分自测).
//
// A rulebook is data embedded in the binary (rulebooks/*.json): every rate,
// cap, tier, age band, date and list lives there, and the code holds only the
// kinds of computation. A round names its rulebook version; a changed rule is
// a new version, never an edit of an old one. Scores are exact integer
// hundredths (Points), rounded half-up to two places per indicator, and the
// total is the plain sum of the indicators.
//
// The same Facts shape carries what an applicant declared and what the
// partner agencies verified, so a self-computed score and the bureau's score
// come from the very same call: (*Rulebook).Score.
package rules

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

//go:embed rulebooks/*.json
var rulebookFiles embed.FS

// Rulebook is one version of the scoring rules, compiled from its embedded
// JSON. It is immutable and safe for concurrent use.
type Rulebook struct {
	version    string
	title      string
	firstRound int
	lastRound  int // 0: still in force
	statistics dayRule
	districts  []string
	core       map[string]bool
	notes      []string
	labels     Labels
	names      map[string]string // indicator code → 指标 name

	retireMale, retireFemale, retireFemaleCadre int
	continuityMonths, maxBackPaid               int

	employmentFrom Month
	employmentUnit unit
	employmentRate Rate

	housingFrom    Month
	housingUnit    unit
	housingKinds   map[HousingKind]housingKind
	presumedRate   Rate
	presumedLabel  string
	presumedBefore Month // 0: no end

	educationLevels map[EducationLevel]educationLevel

	studyUnit unit
	studyRate Rate
	studyCaps map[Points]int

	wraFrom      Month
	wraHomeKinds map[HousingKind]bool
	wraBoth      yearly
	wraLiveOnly  yearly
	wraMax       Points

	innovationMax Points
	financing     []financingTier // descending by threshold
	awardLevels   map[string]Points
	contestLevels map[string]Points

	taxYears          int
	taxThreshold      Amount // yuan
	taxPerYear        Points
	taxAllYears       Points
	taxMax            Points
	taxOffencePenalty Points

	ageReference dayRule
	ageBands     []ageBand // ascending by maxAge
	ageOtherwise Points

	honorPoints      Points
	detentionPenalty Points
}

// unit says whether a rate is paid per month or per full 12 months.
type unit int

const (
	perMonth unit = iota
	perFullYear
)

// amount is the points of n months at rate r: per month, n × r rounded;
// per full year, ⌊n/12⌋ × r.
func (u unit) amount(r Rate, n int) Points {
	if u == perFullYear {
		return r.Times(int64(n / 12))
	}
	return r.Times(int64(n))
}

// dayRule names a day relative to the application year Y: day Day of month
// Month of year Y+YearOffset.
type dayRule struct {
	YearOffset int `json:"year_offset"`
	Month      int `json:"month"`
	Day        int `json:"day"`
}

func (d dayRule) in(applicationYear int) (int, time.Month, int) {
	return applicationYear + d.YearOffset, time.Month(d.Month), d.Day
}

type housingKind struct {
	label          string
	rate           Rate
	owned          bool
	registeredFrom Month // 0: registration never required
}

type educationLevel struct {
	label string
	both  Points // diploma and degree
	one   Points // diploma or degree alone
}

type yearly struct {
	perYear Points
	max     Points
}

type financingTier struct {
	min    Amount // 万元
	points Points
}

type ageBand struct {
	maxAge int
	points Points
}

// Version is the rulebook's version, e.g. "2020".
func (b *Rulebook) Version() string { return b.version }

// Title is the name of the regulation the rulebook encodes.
func (b *Rulebook) Title() string { return b.title }

// Rounds is the first and last application year the rulebook applies to;
// last is 0 while it is still in force.
func (b *Rulebook) Rounds() (first, last int) { return b.firstRound, b.lastRound }

// Notes lists the points where the rulebook encodes our reading of a rule
// the public record leaves open.
func (b *Rulebook) Notes() []string { return slices.Clone(b.notes) }

// StatisticsDate is the statistics date (统计截止日) of a round: nothing after
// it counts.
func (b *Rulebook) StatisticsDate(applicationYear int) time.Time {
	y, m, d := b.statistics.in(applicationYear)
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// StatisticsMonth is the month of the statistics date, the last month that
// counts anywhere.
func (b *Rulebook) StatisticsMonth(applicationYear int) Month {
	y, m, _ := b.statistics.in(applicationYear)
	return MonthOf(y, m)
}

// Districts lists the districts of Beijing in the official order.
func (b *Rulebook) Districts() []string { return slices.Clone(b.districts) }

// IsDistrict reports whether d is one of Beijing's districts.
func (b *Rulebook) IsDistrict(d string) bool { return slices.Contains(b.districts, d) }

// IsCoreDistrict reports whether d is one of the six core districts (城六区).
func (b *Rulebook) IsCoreDistrict(d string) bool { return b.core[d] }

// CoreDistricts lists the core districts (城六区) in the official order.
func (b *Rulebook) CoreDistricts() []string {
	var out []string
	for _, d := range b.districts {
		if b.core[d] {
			out = append(out, d)
		}
	}
	return out
}

type registry struct {
	books    map[string]*Rulebook
	versions []string // ascending by first round
	err      error
}

var loadRegistry = sync.OnceValue(func() registry {
	r := registry{books: map[string]*Rulebook{}}
	entries, err := rulebookFiles.ReadDir("rulebooks")
	if err != nil {
		r.err = err
		return r
	}
	for _, e := range entries {
		data, err := rulebookFiles.ReadFile(path.Join("rulebooks", e.Name()))
		if err == nil {
			var b *Rulebook
			if b, err = compileRulebook(data); err == nil {
				r.books[b.version] = b
				r.versions = append(r.versions, b.version)
				continue
			}
		}
		r.err = fmt.Errorf("rules: rulebook %s: %w", e.Name(), err)
		return r
	}
	sort.Slice(r.versions, func(i, j int) bool {
		return r.books[r.versions[i]].firstRound < r.books[r.versions[j]].firstRound
	})
	return r
})

// Versions lists the versions of the embedded rulebooks, oldest first.
func Versions() []string {
	return slices.Clone(loadRegistry().versions)
}

// Book returns the rulebook of the given version.
func Book(version string) (*Rulebook, error) {
	r := loadRegistry()
	if r.err != nil {
		return nil, r.err
	}
	b, ok := r.books[version]
	if !ok {
		return nil, fmt.Errorf("rules: no rulebook version %q (have %s)", version, strings.Join(r.versions, ", "))
	}
	return b, nil
}

// ForYear returns the rulebook that applies to the round of the given
// application year. Years outside 1900–2100 have none, even under an
// open-ended rulebook: month arithmetic stays small and a typo such as 20222
// is caught.
func ForYear(applicationYear int) (*Rulebook, error) {
	r := loadRegistry()
	if r.err != nil {
		return nil, r.err
	}
	if applicationYear < firstYear || applicationYear > lastYear {
		return nil, fmt.Errorf("rules: application year %d out of range", applicationYear)
	}
	for _, v := range r.versions {
		b := r.books[v]
		if applicationYear >= b.firstRound && (b.lastRound == 0 || applicationYear <= b.lastRound) {
			return b, nil
		}
	}
	return nil, fmt.Errorf("rules: no rulebook for application year %d", applicationYear)
}

// Latest returns the newest rulebook; it panics only if the embedded
// rulebooks are broken, which the package tests rule out.
func Latest() *Rulebook {
	r := loadRegistry()
	if r.err != nil || len(r.versions) == 0 {
		panic(fmt.Sprintf("rules: embedded rulebooks unusable: %v", r.err))
	}
	return r.books[r.versions[len(r.versions)-1]]
}

// Districts lists Beijing's districts as the newest rulebook has them.
func Districts() []string { return Latest().Districts() }

// decodeStrict decodes one JSON document, rejecting unknown fields so a typo
// in a rulebook fails the build's tests rather than silently scoring 0.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
