package rule

import (
	"context"

	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// A Predicate is a named question about who the viewer is — "may they take
// part in messaging?", "are they an administrator?". The privacy policies in
// ent/schema/policy.go are built from these predicates (AllowIf), and the
// domain packages, the live hub and the resolvers ask the same predicates for
// an early, friendly refusal (Check), so no package restates a rule.
type Predicate struct {
	// Name is how the rulebook and its tests refer to the predicate.
	Name string
	// refusal is the FORBIDDEN message of Check.
	refusal string
	holds   func(v *viewer.Viewer) bool
}

// Holds reports whether the predicate holds for v (a nil viewer never holds).
func (p Predicate) Holds(v *viewer.Viewer) bool { return v != nil && p.holds(v) }

// Check returns the viewer of ctx when the predicate holds for it, or the
// error a client should see: UNAUTHENTICATED without a viewer, FORBIDDEN
// naming what is missing otherwise.
func (p Predicate) Check(ctx context.Context) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil:
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	case !p.Holds(v):
		return nil, apperr.New(apperr.Forbidden, "%s", p.refusal)
	}
	return v, nil
}

// AllowIf is the privacy rule "allow when p holds for the viewer".
func AllowIf(p Predicate) privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if p.Holds(viewer.FromContext(ctx)) {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// Holds reports whether v holds permission p as the rulebook counts it:
//   - a staff user holds what their security groups and direct grants give;
//   - a service account (an integrator's API key) holds INTEGRATION when
//     granted and nothing else: service accounts get the integration surface
//     only (the directory, patients, bookings, referrals, notifications
//     pushed by integrators), never messages or patient conversations, even
//     when an administrator gave one ACCESS_WHISPER;
//   - a portal patient holds no permission;
//   - a background worker (viewer.System) holds every permission.
func Holds(v *viewer.Viewer, p viewer.Permission) bool {
	if v == nil {
		return false
	}
	switch v.Kind {
	case viewer.System:
		return true
	case viewer.Staff:
		return v.UserID != "" && v.Perms[p]
	case viewer.Service:
		return v.UserID != "" && p == viewer.Integration && v.Perms[p]
	}
	return false
}

// anyOf holds when the viewer holds any of ps.
func anyOf(ps ...viewer.Permission) func(*viewer.Viewer) bool {
	return func(v *viewer.Viewer) bool {
		for _, p := range ps {
			if Holds(v, p) {
				return true
			}
		}
		return false
	}
}

// The predicates of the rulebook.
var (
	// Account: a staff user or a service account — a principal with a user
	// row of its own (its profile, sessions, labels).
	Account = Predicate{"Account", "only staff users and service accounts have a profile", func(v *viewer.Viewer) bool {
		return v.IsUser() && v.Kind != viewer.System
	}}

	// StaffUser: a signed-in member of staff, whatever their permissions
	// (not a service account, not a patient).
	StaffUser = Predicate{"StaffUser", "only staff users may do this", func(v *viewer.Viewer) bool {
		return v.Kind == viewer.Staff && v.UserID != ""
	}}

	// Messaging: a staff user with ACCESS_WHISPER. They take part in staff
	// conversations, and they are the care team: every one of them shares
	// every patient conversation. Service accounts never message.
	Messaging = Predicate{"Messaging", "you do not have access to messaging (ACCESS_WHISPER)", func(v *viewer.Viewer) bool {
		return v.Kind == viewer.Staff && Holds(v, viewer.AccessWhisper)
	}}

	// Admin: a staff user with WHISPER_ADMIN (observe user, audit and access
	// logs, practice-wide alerts).
	Admin = Predicate{"Admin", "this needs WHISPER_ADMIN", func(v *viewer.Viewer) bool {
		return v.Kind == viewer.Staff && Holds(v, viewer.WhisperAdmin)
	}}

	// DirectoryManager: holds DIRECTORY_MANAGE (users, security groups,
	// service accounts and their keys, patients).
	DirectoryManager = Predicate{"DirectoryManager", "this needs DIRECTORY_MANAGE", anyOf(viewer.DirectoryManage)}

	// ProgramManager: holds PATIENT_CONNECT_MANAGE (templates, programs,
	// enrolments, deliveries).
	ProgramManager = Predicate{"ProgramManager", "this needs PATIENT_CONNECT_MANAGE", anyOf(viewer.PatientConnectManage)}

	// ProgramReader: may read Patient Connect's configuration and
	// enrolments: program managers, and the care team (to see what a
	// patient is enrolled in).
	ProgramReader = Predicate{"ProgramReader", "this needs PATIENT_CONNECT_MANAGE or ACCESS_WHISPER", func(v *viewer.Viewer) bool {
		return ProgramManager.holds(v) || Messaging.holds(v)
	}}

	// RecordWriter: may write the practice's records (patients, booking
	// types, bookings, referrals): integrators and directory managers.
	RecordWriter = Predicate{"RecordWriter", "writing practice records needs INTEGRATION or DIRECTORY_MANAGE",
		anyOf(viewer.Integration, viewer.DirectoryManage)}

	// NotificationSender: may send notifications to others: integrators
	// and directory managers.
	NotificationSender = Predicate{"NotificationSender", "sending notifications to others needs INTEGRATION or DIRECTORY_MANAGE",
		anyOf(viewer.Integration, viewer.DirectoryManage)}

	// NotificationWriter: may create notifications: senders, and the
	// care team setting themselves a reminder (the policy narrows what each
	// may create).
	NotificationWriter = Predicate{"NotificationWriter", "creating notifications needs ACCESS_WHISPER, INTEGRATION or DIRECTORY_MANAGE", func(v *viewer.Viewer) bool {
		return NotificationSender.holds(v) || Messaging.holds(v)
	}}

	// BookingStatusWriter: may change a booking's status: record writers,
	// and the care team (the front desk marks arrivals; the policy lets
	// them change the status and nothing else).
	BookingStatusWriter = Predicate{"BookingStatusWriter", "changing a booking's status needs ACCESS_WHISPER, INTEGRATION or DIRECTORY_MANAGE", func(v *viewer.Viewer) bool {
		return RecordWriter.holds(v) || Messaging.holds(v)
	}}

	// DirectoryReader: may read the practice directory (users, security
	// groups, patients, booking types, bookings, referrals): anyone holding
	// a permission, integrators included.
	DirectoryReader = Predicate{"DirectoryReader", "reading the practice directory needs a permission",
		anyOf(viewer.AccessWhisper, viewer.DirectoryManage, viewer.Integration, viewer.WhisperAdmin, viewer.PatientConnectManage)}

	// ConsentWriter: may record whether a patient may be contacted by SMS
	// or email (setPatientConsent): the care team, who hear it from the
	// patient.
	ConsentWriter = Predicate{"ConsentWriter", "recording a patient's consent needs ACCESS_WHISPER", func(v *viewer.Viewer) bool {
		return Messaging.holds(v)
	}}

	// PortalPatient: a patient signed in to the portal. They see and answer
	// only their own patient conversations.
	PortalPatient = Predicate{"PortalPatient", "only portal patients may do this", func(v *viewer.Viewer) bool {
		return v.Kind == viewer.Patient && v.PatientID != ""
	}}

	// Worker: a background worker acting with full privilege (see
	// viewer.NewSystemContext and the list of its uses in policy.go).
	Worker = Predicate{"Worker", "only the server itself may do this", func(v *viewer.Viewer) bool {
		return v.Kind == viewer.System
	}}
)

// OwnRecord reports whether v is the portal patient whose record patientID
// is. A portal patient reads the consent of their own record (their own
// choice, and their number's and address's, as SPEC §13 keeps them) though
// the Consent and ConsentChange policies keep consent rows to staff: the
// consent service reads them for the patient when this holds (see the list
// of worker contexts in ent/schema/policy.go).
func OwnRecord(v *viewer.Viewer, patientID pulid.ID) bool {
	return PortalPatient.Holds(v) && v.PatientID == patientID
}

// PostIn decides whether a viewer who is a member of a channel of kind may
// post a message of their own in it: alerts are posted by administrators
// only, and an arrival is answered by replying to the arrival, never in its
// channel. It returns nil when allowed, or the FORBIDDEN error.
func PostIn(v *viewer.Viewer, kind channel.Kind) error {
	switch kind {
	case channel.KindALERT:
		if !Admin.Holds(v) {
			return apperr.New(apperr.Forbidden, "only administrators post alerts (WHISPER_ADMIN)")
		}
	case channel.KindARRIVAL:
		return apperr.New(apperr.Forbidden, "arrival notifications cannot be answered in their channel; reply to the arrival instead")
	}
	return nil
}
