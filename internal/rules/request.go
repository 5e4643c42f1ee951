package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// CalculatorRequest is the JSON contract of the public calculator
// (POST /api/v1/calculator, jifen calc). Missing lists mean none. Dates are
// strings ("1980-09-10", months "2015-03") and amounts are Decimals so that
// a malformed value is reported by Facts against its field rather than
// failing the whole decode.
type CalculatorRequest struct {
	ApplicationYear int                `json:"application_year"`
	BirthDate       string             `json:"birth_date"`
	Sex             string             `json:"sex"`
	Cadre           bool               `json:"cadre"`
	ResidencePermit bool               `json:"residence_permit"`
	CriminalRecord  bool               `json:"criminal_record"`
	SocialInsurance []PeriodInput      `json:"social_insurance"`
	BackPaid        []PeriodInput      `json:"back_paid"`
	Housing         []HousingInput     `json:"housing"`
	Education       EducationInput     `json:"education"`
	StudyMonths     int                `json:"study_months"`
	Workplaces      []WorkplaceInput   `json:"workplaces"`
	Innovation      []InnovationInput  `json:"innovation"`
	IncomeTax       map[string]Decimal `json:"income_tax"` // calendar year → yuan
	TaxOffences     int                `json:"tax_offences"`
	Honors          []string           `json:"honors"`
	Detentions      int                `json:"detentions"`
}

// PeriodInput is a run of months as the request writes it.
type PeriodInput struct {
	From string `json:"from"` // "YYYY-MM"
	To   string `json:"to"`   // "YYYY-MM", included
}

// HousingInput is one home as the request writes it.
type HousingInput struct {
	Kind       string `json:"kind"` // owned | rented | dormitory
	From       string `json:"from"`
	To         string `json:"to"`
	District   string `json:"district"`             // e.g. "昌平区"
	Registered bool   `json:"registered,omitempty"` // rentals: registered (备案)
}

// EducationInput is the highest qualification as the request writes it.
type EducationInput struct {
	Level   string `json:"level"` // none | college | bachelor | master | doctor; empty means none
	Diploma bool   `json:"diploma"`
	Degree  bool   `json:"degree"`
}

// WorkplaceInput is one workplace as the request writes it.
type WorkplaceInput struct {
	From     string `json:"from"`
	To       string `json:"to"`
	District string `json:"district"`
}

// InnovationInput is one innovation item as the request writes it.
type InnovationInput struct {
	Kind      string  `json:"kind"`                 // financing | award | contest
	AmountWan Decimal `json:"amount_wan,omitempty"` // financing: 万元
	Level     string  `json:"level,omitempty"`      // award, contest: a level code of the rulebook
}

// Decimal is a decimal number as the request wrote it: a JSON number, or a
// string holding one (as a web form submits it). Decoding never fails;
// CalculatorRequest.Facts reports a value that is not a number.
type Decimal string

// UnmarshalJSON keeps the literal; null means absent.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*d = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			s = string(b)
		}
		*d = Decimal(s)
	case len(b) > 64:
		*d = Decimal(b[:64])
	default:
		*d = Decimal(b)
	}
	return nil
}

// MarshalJSON writes a valid decimal as a JSON number and anything else as a
// string.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if _, err := parseHundredths(string(d), true); err == nil && !strings.ContainsAny(string(d), " \t\n") {
		return []byte(d), nil
	}
	return json.Marshal(string(d))
}

// FieldError is a problem with one field of a request.
type FieldError struct {
	Field   string `json:"field"`   // JSON path, e.g. "housing[1].from"
	Message string `json:"message"` // Simplified Chinese, naming the field
}

// Error returns the field and message.
func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldErrors lists every problem found in a request.
type FieldErrors []FieldError

// Error joins the problems.
func (errs FieldErrors) Error() string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (errs *FieldErrors) add(field, format string, args ...any) {
	*errs = append(*errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// MaxRequestBytes bounds what DecodeCalculatorRequest reads; the web
// handler applies its own, smaller limit first.
const MaxRequestBytes = 1 << 20

// DecodeCalculatorRequest reads one calculator request. A problem with the
// content is FieldErrors: malformed JSON is reported on "body", a value of
// the wrong type or an unknown field on its path, e.g. "housing[0].form".
// An error of r itself is returned wrapped, not as FieldErrors, so that a
// handler can tell an *http.MaxBytesError (413) from bad input (400).
func DecodeCalculatorRequest(r io.Reader) (CalculatorRequest, error) {
	var req CalculatorRequest
	data, err := io.ReadAll(io.LimitReader(r, MaxRequestBytes+1))
	if err != nil {
		return req, fmt.Errorf("rules: reading calculator request: %w", err)
	}
	if len(data) > MaxRequestBytes {
		return req, FieldErrors{{Field: "body", Message: fmt.Sprintf("请求内容超过%d字节", MaxRequestBytes)}}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return CalculatorRequest{}, FieldErrors{decodeError(data, err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return CalculatorRequest{}, FieldErrors{{Field: "body", Message: "请求内容在 JSON 对象之后还有多余内容"}}
	}
	return req, nil
}

// decodeError turns an encoding/json error into a FieldError naming the
// field where the decoder lets us find it.
func decodeError(data []byte, err error) FieldError {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return FieldError{Field: "body", Message: "请求内容为空，应为 JSON 对象"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return FieldError{Field: "body", Message: "请求内容不完整，JSON 未结束"}
	case errors.As(err, &syntax):
		return FieldError{Field: "body", Message: fmt.Sprintf("请求内容不是有效的 JSON（第%d字节附近）", syntax.Offset)}
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return FieldError{Field: "body", Message: "请求内容应为 JSON 对象"}
		}
		path := locateTypeError(data, typeErr.Field, typeErr.Value)
		return FieldError{Field: path, Message: fmt.Sprintf("%s类型不正确，应为%s", describe(path), typeName(typeErr))}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		path := locateUnknownField(data, name)
		where := "请求内容"
		if i := strings.LastIndexByte(path, '.'); i > 0 {
			where = describe(path[:i])
		}
		return FieldError{Field: path, Message: fmt.Sprintf("%s中有不认识的字段“%s”", where, name)}
	}
	return FieldError{Field: "body", Message: "请求内容无法解析"}
}

// typeName says in Chinese what kind of JSON value the field takes.
func typeName(e *json.UnmarshalTypeError) string {
	switch e.Type.Kind().String() {
	case "string":
		return "字符串"
	case "bool":
		return "布尔值（true 或 false）"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		if strings.HasPrefix(e.Value, "number") {
			return "整数，且不能超出范围"
		}
		return "整数"
	case "slice", "array":
		return "数组"
	case "struct", "map":
		return "对象"
	}
	return e.Type.String()
}
