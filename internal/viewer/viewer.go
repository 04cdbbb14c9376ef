// Package viewer owns the identity a request acts as — a staff user, an
// integration service account, a portal patient, or a named background
// worker — and the permissions that identity holds.
package viewer

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"

	"github.com/whisper-health/whisper/internal/pulid"
)

// Permission is a capability granted through security groups or directly.
type Permission string

// The permissions of SPEC §2.
const (
	AccessWhisper        Permission = "ACCESS_WHISPER"
	WhisperAdmin         Permission = "WHISPER_ADMIN"
	PatientConnectManage Permission = "PATIENT_CONNECT_MANAGE"
	DirectoryManage      Permission = "DIRECTORY_MANAGE"
	Integration          Permission = "INTEGRATION"
)

// AllPermissions lists every permission in display order.
var AllPermissions = []Permission{AccessWhisper, WhisperAdmin, PatientConnectManage, DirectoryManage, Integration}

// Values lists the permissions as strings, for ent enum validation.
func (Permission) Values() []string {
	out := make([]string, len(AllPermissions))
	for i, p := range AllPermissions {
		out[i] = string(p)
	}
	return out
}

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool {
	for _, q := range AllPermissions {
		if p == q {
			return true
		}
	}
	return false
}

// MarshalGQL implements graphql.Marshaler.
func (p Permission) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(p))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (p *Permission) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !Permission(s).Valid() {
		return fmt.Errorf("%v is not a valid Permission", v)
	}
	*p = Permission(s)
	return nil
}

// Kind says what sort of principal a viewer is.
type Kind int

// The kinds of viewer.
const (
	// Staff is a signed-in practice user.
	Staff Kind = iota + 1
	// Service is an integration service account using an API key.
	Service
	// Patient is a portal patient.
	Patient
	// System is a background worker acting with full privilege.
	System
)

// Viewer is who a context acts as.
type Viewer struct {
	Kind Kind
	// UserID is the staff user or service account (empty for patients).
	UserID pulid.ID
	// PatientID is set for portal patients.
	PatientID pulid.ID
	// SessionID is the sign-in session behind an access token, if any.
	SessionID pulid.ID
	// Perms are the effective permissions.
	Perms map[Permission]bool
	// Reason names the worker for System viewers, for the audit trail.
	Reason string
	// ObservedBy is set when an administrator observes this user: the
	// context reads what the user can see and may write nothing.
	ObservedBy pulid.ID
}

// Has reports whether the viewer holds p. System viewers hold everything.
func (v *Viewer) Has(p Permission) bool {
	if v == nil {
		return false
	}
	return v.Kind == System || v.Perms[p]
}

// IsUser reports whether the viewer is a staff user or service account.
func (v *Viewer) IsUser() bool {
	return v != nil && (v.Kind == Staff || v.Kind == Service) && v.UserID != ""
}

// PermissionList returns the viewer's permissions in display order.
func (v *Viewer) PermissionList() []Permission {
	var out []Permission
	for _, p := range AllPermissions {
		if v.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

type ctxKey struct{}

type pendingKey struct{}

// NewContext returns ctx acting as v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer of ctx, or nil when there is none.
func FromContext(ctx context.Context) *Viewer {
	if v, ok := ctx.Value(ctxKey{}).(*Viewer); ok {
		return v
	}
	if p, ok := ctx.Value(pendingKey{}).(*atomic.Pointer[Viewer]); ok {
		return p.Load()
	}
	return nil
}

// NewPendingContext returns an anonymous context whose viewer is set later,
// once, by SetPending. A sign-in mutation runs in one, so that the rest of
// its own response (the user's groups, permissions) is read as the user who
// has just proven who they are.
func NewPendingContext(ctx context.Context) context.Context {
	if FromContext(ctx) != nil {
		return ctx
	}
	return context.WithValue(ctx, pendingKey{}, new(atomic.Pointer[Viewer]))
}

// signedOut hides the viewer of an outer context (see NewSignInContext).
type signedOut struct{}

// NewSignInContext is NewPendingContext acting as nobody whatever ctx acted
// as: a sign-in whose credential is its argument (a portal invitation
// token) ignores the request's own bearer token, and its answer is read as
// the one who signs in.
func NewSignInContext(ctx context.Context) context.Context {
	ctx = context.WithValue(ctx, ctxKey{}, signedOut{})
	return context.WithValue(ctx, pendingKey{}, new(atomic.Pointer[Viewer]))
}

// SetPending sets the viewer of a pending context; it does nothing when ctx
// is not pending or its viewer is already set.
func SetPending(ctx context.Context, v *Viewer) {
	if _, ok := ctx.Value(ctxKey{}).(*Viewer); ok {
		return
	}
	if p, ok := ctx.Value(pendingKey{}).(*atomic.Pointer[Viewer]); ok {
		p.CompareAndSwap(nil, v)
	}
}

// NewSystemContext returns a privileged context for a background worker or
// bootstrap step. reason names the caller; it is recorded wherever the
// privilege is used. Request handlers must never call this on behalf of a
// client.
func NewSystemContext(ctx context.Context, reason string) context.Context {
	return NewContext(ctx, &Viewer{Kind: System, Reason: reason})
}

// PermSet builds a permission set from a list.
func PermSet(ps ...Permission) map[Permission]bool {
	m := make(map[Permission]bool, len(ps))
	for _, p := range ps {
		m[p] = true
	}
	return m
}

// SortedPermissions returns the known permissions among names, in display
// order and without duplicates.
func SortedPermissions(names []string) []Permission {
	has := map[Permission]bool{}
	for _, n := range names {
		has[Permission(n)] = true
	}
	out := []Permission{}
	for _, p := range AllPermissions {
		if has[p] {
			out = append(out, p)
		}
	}
	return out
}
