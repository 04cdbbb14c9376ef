package rule

import "github.com/whisper-health/whisper/ent/privacy"

// The allow decisions of the rules that filter a query, each made once:
// such a rule allows every read it filters, and privacy.Allowf formats
// its reason into a new error every time (about 2.5 % of the server's CPU
// in a profile of the bench's reconnect storm). Every read gets the same
// decision, reason included; ent only tests it with errors.Is.
var (
	allowQueuedByPatientConnect = privacy.Allowf("filtered to rows queued by Patient Connect")
	allowNoNotifications        = privacy.Allowf("viewer has no notifications")
	allowOwnNotifications       = privacy.Allowf("filtered to the viewer's notifications")
	allowOwnUser                = privacy.Allowf("filtered to the viewer's own user")
	allowOwnSessions            = privacy.Allowf("filtered to the viewer's own sessions")
	allowOwnPatientRecord       = privacy.Allowf("filtered to the patient's own record")
	allowVisibleChannels        = privacy.Allowf("filtered to visible channels")
	allowVisibleMessages        = privacy.Allowf("filtered to messages of visible channels")
	allowVisibleMemberships     = privacy.Allowf("filtered to memberships of visible channels")
	allowNoLabels               = privacy.Allowf("viewer has no labels")
	allowOwnLabels              = privacy.Allowf("filtered to the viewer's labels")
	allowConversationStaff      = privacy.Allowf("filtered to the staff of the patient's conversations")
	allowNoSecurityGroups       = privacy.Allowf("a patient reads no security groups")
)
