package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// encoding/json reports an unknown field by its bare name and a type error
// by a dotted path without list indexes. To name the field as a client sees
// it ("housing[1].from"), the locate functions walk the document again
// alongside the CalculatorRequest type. They run only on the error path.

var requestType = reflect.TypeFor[CalculatorRequest]()

// visitor is called for every value of the document with its indexed path,
// its dotted path (no indexes, as encoding/json writes it), and its Go type;
// t is nil for a key the type does not have. Returning true stops the walk.
type visitor func(path, dotted string, v any, t reflect.Type) bool

func parseDocument(data []byte) any {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if dec.Decode(&doc) != nil {
		return nil
	}
	return doc
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func walk(v any, t reflect.Type, path, dotted string, fn visitor) bool {
	if fn(path, dotted, v, t) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		m, _ := v.(map[string]any)
		for _, k := range sortedKeys(m) {
			f, ok := fieldByJSONName(t, k)
			if !ok {
				if fn(join(path, keyName(k)), join(dotted, keyName(k)), m[k], nil) {
					return true
				}
				continue
			}
			name := jsonName(f)
			if walk(m[k], f.Type, join(path, name), join(dotted, name), fn) {
				return true
			}
		}
	case reflect.Slice:
		a, _ := v.([]any)
		for i, e := range a {
			if walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), dotted, fn) {
				return true
			}
		}
	case reflect.Map:
		m, _ := v.(map[string]any)
		for _, k := range sortedKeys(m) {
			if walk(m[k], t.Elem(), join(path, k), join(dotted, k), fn) {
				return true
			}
		}
	}
	return false
}

// keyName writes a key in a path; an empty key shows as "" so that a path
// is never empty.
func keyName(k string) string {
	if k == "" {
		return `""`
	}
	return k
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// fieldByJSONName finds the field a key decodes into: the exact name first,
// then a case-insensitive match, as encoding/json does.
func fieldByJSONName(t reflect.Type, key string) (reflect.StructField, bool) {
	var folded reflect.StructField
	found := false
	for i := range t.NumField() {
		f := t.Field(i)
		switch name := jsonName(f); {
		case name == key:
			return f, true
		case !found && strings.EqualFold(name, key):
			folded, found = f, true
		}
	}
	return folded, found
}

// jsonKind names the kind of a decoded JSON value as UnmarshalTypeError.Value
// does.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}

// locateUnknownField returns the indexed path of the first key named name
// that the request type does not have, or the bare name.
func locateUnknownField(data []byte, name string) string {
	name = keyName(name)
	found := name
	walk(parseDocument(data), requestType, "", "", func(path, _ string, _ any, t reflect.Type) bool {
		if t == nil && (path == name || strings.HasSuffix(path, "."+name)) {
			found = path
			return true
		}
		return false
	})
	return found
}

// locateTypeError returns the indexed path of the first value at the dotted
// path field whose JSON kind is that of value ("number 1.5" → number), or
// field itself.
func locateTypeError(data []byte, field, value string) string {
	kind, _, _ := strings.Cut(value, " ")
	found := field
	walk(parseDocument(data), requestType, "", "", func(path, dotted string, v any, t reflect.Type) bool {
		if t != nil && dotted == field && jsonKind(v) == kind {
			found = path
			return true
		}
		return false
	})
	return found
}

// describe names a request path in Chinese: "housing[1].from" →
// "住房记录第2条的起始月份", "income_tax.2021" → "2021年的个人所得税纳税额".
func describe(path string) string {
	if n, ok := fieldNames[path]; ok {
		return n
	}
	head, rest, _ := strings.Cut(path, ".")
	name, index := head, -1
	if i := strings.IndexByte(head, '['); i > 0 && strings.HasSuffix(head, "]") {
		if n, err := strconv.Atoi(head[i+1 : len(head)-1]); err == nil {
			name, index = head[:i], n
		}
	}
	base, ok := fieldNames[name]
	if !ok {
		return "字段“" + path + "”"
	}
	if name == "income_tax" && rest != "" {
		return rest + "年的" + base
	}
	s := base
	if index >= 0 {
		unit := "条"
		if name == "honors" {
			unit = "项"
		}
		s += fmt.Sprintf("第%d%s", index+1, unit)
	}
	if rest != "" {
		sub, ok := fieldNames[name+"."+rest]
		if !ok {
			sub, ok = fieldNames[rest]
		}
		if !ok {
			sub = "字段“" + rest + "”"
		}
		s += "的" + sub
	}
	return s
}
