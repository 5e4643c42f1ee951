package rules

import "time"

// Facts is everything the rules look at for one applicant in one round. The
// same shape holds what the applicant declared and what the partner agencies
// verified, so both are scored by the same code. Months after the statistics
// month may be present; they never count.
type Facts struct {
	ApplicationYear int       // the round, e.g. 2022
	BirthDate       time.Time // only year, month and day are used
	Sex             Sex
	Cadre           bool // holds a cadre post (干部岗位), which moves a woman's retirement age
	ResidencePermit bool // holds a Beijing 居住证
	CriminalRecord  bool // has a criminal record (刑事犯罪记录)

	SocialInsurance []Period // months of Beijing social insurance actually paid
	BackPaid        []Period // months paid afterwards (补缴)

	Housing     []Housing   // homes, in the order declared
	Education   Education   // highest qualification
	StudyMonths int         // months spent studying for it while insured and housed in Beijing
	Workplaces  []Workplace // where the applicant worked, month by month

	Innovation  []Innovation   // innovation and entrepreneurship items
	IncomeTax   map[int]Amount // individual income tax paid, in yuan, by calendar year
	TaxOffences int            // tax offences (涉税违法) in the 5 years before
	Honors      []string       // honour codes of the rulebook, e.g. "model_worker"
	Detentions  int            // administrative detentions (行政拘留) in the 5 years before
}

// Sex is "M" or "F".
type Sex string

// The two sexes of the calculator contract.
const (
	Male   Sex = "M"
	Female Sex = "F"
)

// HousingKind is the legal basis of a home.
type HousingKind string

// The housing kinds of the embedded rulebooks.
const (
	Owned     HousingKind = "owned"     // 自有住房
	Rented    HousingKind = "rented"    // 租赁住房
	Dormitory HousingKind = "dormitory" // 单位宿舍
)

// Housing is one home over a run of months.
type Housing struct {
	Kind       HousingKind
	Period     Period
	District   string // one of Beijing's districts, in Chinese, e.g. "昌平区"
	Registered bool   // a rental registered with the housing authority (租赁备案)
}

// EducationLevel is the highest level of study completed.
type EducationLevel string

// The education levels of the embedded rulebooks.
const (
	EducationNone     EducationLevel = "none"     // below college
	EducationCollege  EducationLevel = "college"  // 大专（含高职）
	EducationBachelor EducationLevel = "bachelor" // 本科
	EducationMaster   EducationLevel = "master"   // 硕士研究生
	EducationDoctor   EducationLevel = "doctor"   // 博士研究生
)

// Education is the highest qualification: its level and whether the diploma
// (学历) and the degree (学位) were obtained.
type Education struct {
	Level   EducationLevel
	Diploma bool
	Degree  bool
}

// Workplace is where the applicant worked over a run of months.
type Workplace struct {
	Period   Period
	District string
}

// InnovationKind is the category of an innovation item.
type InnovationKind string

// The innovation kinds the code knows how to score.
const (
	Financing InnovationKind = "financing" // equity financing of the applicant's company
	Award     InnovationKind = "award"     // a national or Beijing science or culture award
	Contest   InnovationKind = "contest"   // an innovation and entrepreneurship contest
)

// Innovation is one innovation item: a financing with its amount, or an award
// or contest with its level code from the rulebook.
type Innovation struct {
	Kind      InnovationKind
	AmountWan Amount // financing only, in 万元
	Level     string // award and contest only
}

// Indicator codes, in the order of DOMAIN.md §5 and of every Result.
const (
	CodeEmployment        = "employment"
	CodeHousing           = "housing"
	CodeEducation         = "education"
	CodeStudyDeduction    = "study_deduction"
	CodeWorkResidenceArea = "work_residence_area"
	CodeInnovation        = "innovation"
	CodeTax               = "tax"
	CodeAge               = "age"
	CodeHonors            = "honors"
	CodeLawRecord         = "law_record"
)

// IndicatorCodes lists the ten indicator codes in order.
func IndicatorCodes() []string {
	return []string{CodeEmployment, CodeHousing, CodeEducation, CodeStudyDeduction, CodeWorkResidenceArea,
		CodeInnovation, CodeTax, CodeAge, CodeHonors, CodeLawRecord}
}

// Result is the outcome of scoring one applicant: eligibility with every
// failed condition, the ten indicators with explanations, and the total.
// An ineligible applicant still gets the full breakdown.
type Result struct {
	Rulebook          string      `json:"rulebook"`
	StatisticsDate    string      `json:"statistics_date"` // "2021-12-31"
	Eligible          bool        `json:"eligible"`
	IneligibleReasons []string    `json:"ineligible_reasons"` // in Chinese; empty, never nil
	Indicators        []Indicator `json:"indicators"`         // all ten, in IndicatorCodes order
	Total             Points      `json:"total"`
}

// Indicator is the score of one indicator with how it was reached.
type Indicator struct {
	Code        string `json:"code"`
	Name        string `json:"name"` // the 指标 name, e.g. "合法稳定就业"
	Points      Points `json:"points"`
	Explanation string `json:"explanation"` // e.g. "实缴社保172个月 × 0.25 = 43.00"
}

// Indicator returns the indicator with the given code, or false.
func (r Result) Indicator(code string) (Indicator, bool) {
	for _, in := range r.Indicators {
		if in.Code == code {
			return in, true
		}
	}
	return Indicator{}, false
}
