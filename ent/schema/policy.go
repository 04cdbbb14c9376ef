package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/mixin"

	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/internal/rule"
)

// This file is the access-control table of Whisper: who may read and write
// each entity. Every entity mixes in PrivacyMixin (no viewer → deny, system
// worker → allow), then its own policy, which always ends in deny. The rules
// are built from the named predicates of internal/rule (principal.go): the
// domain packages, the live hub and the resolvers ask those same predicates
// for early refusals and never restate a rule.
//
// Who is who (rule.Holds): a staff user holds the permissions of their
// groups and direct grants; a service account holds INTEGRATION only — the
// integration surface (directory reads, patients, bookings, referrals,
// notifications it sends), never messages or patient conversations; a portal
// patient holds none and reads only their own record and conversations.
//
// Worker contexts (viewer.NewSystemContext) belong to background workers.
// The request path uses one only where the viewer's own rules cannot answer,
// each naming why (the reason is logged with the request id at debug level,
// see rule.LogPrivilegedUse):
//   - auth: sign-in, token refresh, logout and authentication read the
//     session (staff or portal patient), user, patient or API key before
//     there is a viewer to act as;
//   - messenger: the other party of an individual channel (for the send and
//     the auto-reply), auto-replies posted on the recipient's behalf, group
//     and alert channels and their members kept in step with security groups,
//     the make-up of custom groups (expanded groups and included channels,
//     the identical group to reuse), the names in membership notices, and
//     where the message a client's cursor names sits (id, channel, seq,
//     transaction; never its content);
//   - live hub: released messages read once before each stream re-reads them
//     as its viewer, session re-checks, a removed member told from a deleted
//     channel, and the care team's conversation figures;
//   - oversight: the observed user and the observing administrator's rights,
//     the access log (append-only), and the audit page's reads;
//   - notify: arrivals posted to the doctor when a booking's status changes;
//   - rule: the patient-read audit and membership history hooks;
//   - directory: ending every session of a user a directory manager or the
//     practice system deactivated or signed out (the session policy shows
//     each user only their own), invitation and reset tokens redeemed or
//     requested with no viewer yet, a password set by its owner (the password
//     belongs to no editable field), invitation and reset emails queued in
//     the outbox, and the directory log (append-only); for the portal: a
//     patient's invitation redeemed (no viewer yet), its email or SMS queued,
//     another portal patient with the same sign-in address looked for, and their portal sessions ended when access is taken away;
//   - consent: a portal patient reading the consent of their own record
//     (rule.OwnRecord): their choice and their number's and address's;
//   - throttle: counting sign-in attempts, before anyone is signed in;
//   - whisper bootstrap-admin: the first administrator, before anyone exists.

// PrivacyMixin is mixed into every entity.
type PrivacyMixin struct {
	mixin.Schema
}

// Policy of the PrivacyMixin.
func (PrivacyMixin) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyIfNoViewer(), rule.AllowIfSystem()},
		Mutation: privacy.MutationPolicy{rule.DenyIfNoViewer(), rule.DenyIfObserving(), rule.AllowIfSystem()},
	}
}

// Policy of the User.
func (User) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.DirectoryReader),
			rule.FilterUsersToSelf(),
			rule.FilterUsersToPatientCareTeam(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIf(rule.DirectoryManager),
			rule.AllowIfSelfUpdate(),
			rule.AllowIfStaffFromFeed(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the SecurityGroup: portal patients find none.
func (SecurityGroup) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.DirectoryReader),
			rule.FilterSecurityGroupsForPatients(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIf(rule.DirectoryManager),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Session: sign-in itself runs as the auth worker; users may
// list and revoke their own sessions.
func (Session) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.FilterSessionsToOwner(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfOwnSessionUpdate(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the PatientSession: a portal sign-in. Sign-in, refresh,
// authentication and sign-out run as the auth worker (there is no viewer
// yet, or the viewer revokes their own session); nobody else reads or
// writes the rows.
func (PatientSession) Policy() ent.Policy { return systemOnlyPolicy() }

// Policy of the APIKey.
func (APIKey) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.DirectoryManager),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIf(rule.DirectoryManager),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Setting: server internals, workers only.
func (Setting) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}

// Policy of the PracticeProfile: every signed-in staff member reads the
// practice's details (they are in every patient message); directory
// managers change them.
func (PracticeProfile) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.StaffUser),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIf(rule.DirectoryManager),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Patient: staff and integrators read patients, a portal
// patient their own record; integrators and directory managers write them,
// and whoever may revoke portal access may remove a portal password and
// change nothing else.
func (Patient) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.DirectoryReader),
			rule.FilterPatientsToSelf(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIf(rule.RecordWriter),
			rule.AllowIfPortalAccessRemoved(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the BookingType.
func (BookingType) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.DirectoryReader),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIf(rule.RecordWriter),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Booking: integrators and directory managers write bookings;
// any staff member may change a booking's status (the front desk marks
// arrivals).
func (Booking) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.DirectoryReader),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIf(rule.RecordWriter),
			rule.AllowIfStatusChangeByStaff(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the BookingStatusChange: the history is appended with each
// status change and never edited.
func (BookingStatusChange) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.DirectoryReader),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			privacy.OnMutationOperation(rule.AllowIf(rule.BookingStatusWriter), ent.OpCreate),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Referral.
func (Referral) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.DirectoryReader),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIf(rule.RecordWriter),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Notification: each user reads and acknowledges their own;
// integrators and directory managers send them; anyone may set themself a
// reminder.
func (Notification) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.FilterNotificationsToRecipient(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfNotificationSender(),
			rule.AllowIfOwnNotificationUpdate(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Channel. Staff open conversations and members update the
// channels they are in; a portal patient opens conversations about themself
// and moves their own read mark in them; group, alert and arrival channels
// are kept by workers.
func (Channel) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.FilterChannelsToVisible(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfOpeningConversation(),
			rule.AllowIfChannelMemberUpdate(),
			rule.AllowIfPatientStartsConversation(),
			rule.AllowIfPatientReadMark(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the ChannelMember: members add others to the channels they are
// in (and themselves to a channel they open), move their own read mark, and
// remove members of custom groups they are in.
func (ChannelMember) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.FilterMembershipsToVisible(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowMembershipChangesByMembers(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Message: a member posts as themself (or a system notice of a
// change they made) in a channel they belong to; a portal patient posts as
// themself in their own patient conversations. Messages never change.
func (Message) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.FilterMessagesToVisible(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfMemberPosts(),
			rule.AllowIfPatientPosts(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Label: each user's labels are their own.
func (Label) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.FilterLabelsToOwner(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfLabelOwner(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// outreachPolicy lets program managers configure Patient Connect; staff may
// read programs (to see what a patient is enrolled in).
func outreachPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.ProgramReader),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIf(rule.ProgramManager),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Template.
func (Template) Policy() ent.Policy { return outreachPolicy() }

// Policy of the Program.
func (Program) Policy() ent.Policy { return outreachPolicy() }

// Policy of the ProgramAction.
func (ProgramAction) Policy() ent.Policy { return outreachPolicy() }

// systemOnlyPolicy is for bookkeeping tables only workers touch.
func systemOnlyPolicy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}

// accessLogPolicy: administrators read the access log; entries are appended
// by the oversight worker and never updated or deleted.
func accessLogPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.Admin),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}

// Policy of the AccessLogEntry: written by the oversight package as the
// accessing user's side effect; read by administrators; never changed.
func (AccessLogEntry) Policy() ent.Policy { return accessLogPolicy() }

// Policy of the AutoReplySent: written by the messenger's auto-reply step.
func (AutoReplySent) Policy() ent.Policy { return systemOnlyPolicy() }

// Policy of the MembershipSpan: bookkeeping written by the ChannelMember
// hooks and read by the oversight worker only.
func (MembershipSpan) Policy() ent.Policy { return systemOnlyPolicy() }

// Policy of the Enrollment: program managers enrol and steer; staff read.
func (Enrollment) Policy() ent.Policy { return outreachPolicy() }

// Policy of the EnrollmentStep.
func (EnrollmentStep) Policy() ent.Policy { return outreachPolicy() }

// Policy of the OutboxMessage: a sender queues the SMS copy of their own
// message; the outreach engine and the outbox worker do the rest; program
// managers read the rows Patient Connect queued (to review failed and
// unknown deliveries) and no others — not the SMS copies of staff
// messages, which only the conversation's members may read.
func (OutboxMessage) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.FilterDeliveriesToOutreach(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfQueuingOwnMessage(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the UserToken: directory managers issue invitations, the care
// team portal invitations (and nothing else); tokens are redeemed, resets
// requested and replaced links retired by the directory worker (there is no
// viewer yet, or the link belongs to someone else); nobody reads them.
func (UserToken) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{
			privacy.OnMutationOperation(rule.AllowIf(rule.DirectoryManager), ent.OpCreate),
			rule.AllowIfPortalInvitation(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the DirectoryLogEntry: directory managers read the log; the
// directory worker appends to it with each change; nobody changes it.
func (DirectoryLogEntry) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.DirectoryManager),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}

// Policy of the SignInThrottle: sign-in bookkeeping, workers only.
func (SignInThrottle) Policy() ent.Policy { return systemOnlyPolicy() }

// Policy of the Consent: whoever reads patients reads whether they may be
// contacted; the care team (ACCESS_WHISPER) records a patient's choice.
// Carrier keywords and the unsubscribe link have no viewer: the consent
// worker records them (see internal/consent).
func (Consent) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.DirectoryReader),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIf(rule.ConsentWriter),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the ConsentChange: the audit trail of consent, appended with
// each change (and never changed: see its hook).
func (ConsentChange) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIf(rule.DirectoryReader),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			privacy.OnMutationOperation(rule.AllowIf(rule.ConsentWriter), ent.OpCreate),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the InboundSMS: bookkeeping of the SMS webhook's worker.
func (InboundSMS) Policy() ent.Policy { return systemOnlyPolicy() }
