// Package actor says who acts — a signed-in person on a page or the API, a
// staff member at the command line, the worker on its own schedule — and
// what the roles they hold allow. It is the one type every domain operation
// takes and every audit record is written from, so the pages, the JSON API
// and the command line cannot disagree about who may do what: the domain
// checks Require, never the route alone.
package actor

import (
	"context"
	"slices"

	"jifen/internal/platform/apperr"
)

// Actor is who acts. The zero Actor is nobody and may do nothing.
type Actor struct {
	UserID   int64
	Login    string
	Name     string // display name, for pages and notices
	Roles    []Role
	District string // a district officer's district; "" for everyone else

	// PersonID is the applicant's person row when acting as an applicant;
	// EmployerID the employer an operator acts for. Zero otherwise.
	PersonID   int64
	EmployerID int64

	// Where the request came from, for the audit trail.
	ClientAddr string
	RequestID  string
}

// Role is the role shown in the audit trail and on pages: the first one held.
func (a Actor) Role() Role {
	if len(a.Roles) == 0 {
		return ""
	}
	return a.Roles[0]
}

// Can reports whether any role a holds allows p.
func (a Actor) Can(p Permission) bool { return Can(a.Roles, p) }

// Require returns a Chinese forbidden error unless a may do p.
func (a Actor) Require(p Permission) error {
	if a.Can(p) {
		return nil
	}
	return apperr.New(apperr.Forbidden, "您没有执行此操作的权限")
}

// Official reports whether a holds a role of the government network.
func (a Actor) Official() bool {
	return slices.ContainsFunc(a.Roles, func(r Role) bool {
		ri, ok := Info(r)
		return ok && ri.Zone == Office
	})
}

// Operator is a person at the server's console running a command that acts
// as no account (creating the first administrators, disabling an account in
// an emergency): recorded in the audit trail as "cli:<OS user>", allowed
// what the matrix gives Console.
func Operator(osUser string) Actor {
	return Actor{Login: "cli:" + osUser, Roles: []Role{Console}, ClientAddr: "local"}
}

// SystemActor is jifen acting by itself for task (e.g. "demo", "synth",
// "worker"), recorded in the audit trail as "system:<task>".
func SystemActor(task string) Actor {
	return Actor{Login: "system:" + task, Roles: []Role{System}, ClientAddr: "local"}
}

type ctxKey struct{}

// With returns ctx carrying a: the web layer sets it once per request, the
// command line once per command, so audit records made anywhere below name
// the same actor.
func With(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// From returns the actor carried by ctx, or the zero Actor.
func From(ctx context.Context) Actor {
	a, _ := ctx.Value(ctxKey{}).(Actor)
	return a
}
