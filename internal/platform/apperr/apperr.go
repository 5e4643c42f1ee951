// Package apperr is jifen's one application error type: a small set of codes
// (mapped to HTTP statuses in one table by the web layer), a message that is
// safe to show the user (Simplified Chinese), field errors for validation,
// and the internal cause, which is logged and never shown.
package apperr

import (
	"errors"
	"strings"
)

// Code classifies an error.
type Code string

// The error codes.
const (
	Invalid         Code = "invalid"
	NotFound        Code = "not_found"
	Conflict        Code = "conflict"
	Forbidden       Code = "forbidden"
	Unauthorized    Code = "unauthorized"
	Locked          Code = "locked"
	TooManyRequests Code = "too_many_requests"
	TooLarge        Code = "too_large"
	Internal        Code = "internal"
)

// FieldError names a field and says, in Chinese, what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an application error.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	b.WriteString(": ")
	b.WriteString(e.Message)
	for _, f := range e.Fields {
		b.WriteString("; " + f.Field + ": " + f.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with code and user-safe message.
func New(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Wrap returns an internal error around cause with a generic message.
func Wrap(cause error) *Error {
	return &Error{Code: Internal, Message: "系统内部错误，请稍后重试", Err: cause}
}

// Field returns a validation error for one field.
func Field(field, msg string) *Error {
	return &Error{Code: Invalid, Message: "提交的内容有误，请按提示修改", Fields: []FieldError{{field, msg}}}
}

// Fields returns a validation error for several fields; nil if fs is empty.
func Fields(fs []FieldError) error {
	if len(fs) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Message: "提交的内容有误，请按提示修改", Fields: fs}
}

// CodeOf returns the code of err: Internal for errors of other types.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns err as an *Error, wrapping foreign errors as internal.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Wrap(err)
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }
