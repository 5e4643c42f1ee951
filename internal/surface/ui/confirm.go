package ui

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
)

// ConfirmField is the form field that says the person has seen the
// confirmation step of an action that cannot be undone. A POST without it
// shows the step (what will happen, and a button that sends the same form
// again with the field) and changes nothing.
const ConfirmField = "confirmed"

// Confirmed reports whether the POST carries the confirmation.
func Confirmed(r *http.Request) bool { return r.PostFormValue(ConfirmField) == "yes" }

// Hidden is one form value carried from the first POST to the confirmation.
type Hidden struct{ Name, Value string }

// Confirm is the data of the "confirm" page.
type Confirm struct {
	Heading string   // the question, e.g. 确认提交申请？
	Lead    string   // what the action is about (the applicant, the employer)
	Effects []string // what will happen, one line each
	Action  string   // where the confirmation posts (the same action)
	Carry   []Hidden // the first POST's values, sent again
	Button  string   // e.g. 确认提交
	Cancel  string   // where 返回 goes
}

// Carry returns the form's values as hidden fields, without the names in
// skip (and never the confirmation field itself), in a stable order.
func Carry(form url.Values, skip ...string) []Hidden {
	var out []Hidden
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if k == ConfirmField || slices.Contains(skip, k) {
			continue
		}
		for _, v := range form[k] {
			out = append(out, Hidden{k, v})
		}
	}
	return out
}
