// Package directory owns who is who in the practice: users, security groups and their membership, invitations and passwords, patients' portal access, service accounts and API keys, preferences, the staff feed and the directory log.
package directory

import (
	"context"
	"fmt"
	"github.com/whisper-health/whisper/internal/txn"
	"log/slog"
	"strings"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/directorylogentry"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/settings"
	"github.com/whisper-health/whisper/internal/throttle"
	"github.com/whisper-health/whisper/internal/viewer"
)

// DefaultAppURL is where the front-end is served when WHISPER_APP_URL is unset.
const DefaultAppURL = "http://localhost:8080"

// Token lifetimes (SPEC §11).
const (
	InvitationTTL = 7 * 24 * time.Hour
	ResetTTL      = time.Hour
)

// MaxResetEmails is how many reset emails one address may be sent per hour.
const MaxResetEmails = 3

// MinPasswordLength is the shortest password a user may set (SPEC §11).
const MinPasswordLength = 12

// The built-in security groups, which cannot be deleted or renamed.
const (
	DefaultGroup = "Default"
	AdminGroup   = "HMS-Administrator"
)

// BuiltInGroups are the built-in security groups and their permissions.
var BuiltInGroups = []struct {
	Name        string
	Permissions []viewer.Permission
}{
	{DefaultGroup, []viewer.Permission{viewer.AccessWhisper}},
	{AdminGroup, []viewer.Permission{viewer.WhisperAdmin, viewer.DirectoryManage, viewer.PatientConnectManage}},
}

// IsBuiltIn reports whether a security group name is a built-in group's.
func IsBuiltIn(name string) bool { return name == DefaultGroup || name == AdminGroup }

// Config tunes the directory.
type Config struct {
	// AppURL is the front-end's base URL, for invitation and reset links
	// (default DefaultAppURL).
	AppURL string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service is the directory.
type Service struct {
	client *ent.Client
	bus    pubsub.Bus
	auth   *auth.Service
	msgr   *messenger.Service
	log    *slog.Logger
	cfg    Config
	tx     *txn.Runner
	// resets limits reset emails per address, across replicas.
	resets *throttle.Shared
	// consent and settings serve portal invitations (WithPortal).
	consent  *consent.Service
	settings *settings.Service
}

// New returns the directory over client. Group channels follow security
// groups through msgr; sessions end through a.
func New(client *ent.Client, bus pubsub.Bus, a *auth.Service, msgr *messenger.Service, log *slog.Logger, cfg Config) *Service {
	if cfg.AppURL == "" {
		cfg.AppURL = DefaultAppURL
	}
	cfg.AppURL = strings.TrimRight(cfg.AppURL, "/")
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{client: client, bus: bus, auth: a, msgr: msgr, log: log, cfg: cfg, tx: txn.New(client, bus, log),
		resets: throttle.NewShared(client, MaxResetEmails, time.Hour)}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// system is the directory's worker context; why names the use.
func system(ctx context.Context, why string) context.Context {
	return viewer.NewSystemContext(ctx, "directory: "+why)
}

// endAccess ends, on every replica, the live connections of users whose
// access changed (reason: pubsub.EndAccessChanged or EndDeactivated); their
// clients reconnect and are authenticated and authorised afresh.
func (s *Service) endAccess(ctx context.Context, reason string, users ...pulid.ID) {
	if len(users) == 0 {
		return
	}
	// This replica forgets their cached checks at once, so the very next
	// request sees the change; the others when the event reaches them.
	for _, u := range users {
		s.auth.ForgetUser(u)
	}
	s.bus.Publish(ctx, pubsub.Event{Kind: pubsub.AccessEnded, Users: users, Change: reason})
}

// entry is one directory-log line.
type entry struct {
	action directorylogentry.Action
	// actor overrides the viewer as who made the change (a user redeeming
	// their own link has no viewer yet).
	actor  *ent.User
	user   *ent.User
	group  *ent.SecurityGroup
	detail string
}

// record appends entries to the directory log in the change's transaction,
// naming the viewer as the actor (or the server, for a worker).
func (s *Service) record(ctx context.Context, c *ent.Client, es ...entry) error {
	v := viewer.FromContext(ctx)
	actorName := "Whisper"
	var actor *pulid.ID
	if rule.Account.Holds(v) {
		id := v.UserID
		actor = &id
		if u, err := c.User.Get(system(ctx, "name the actor in the directory log"), id); err == nil {
			actorName = u.Name
		}
	}
	sctx := system(ctx, "append to the directory log")
	for _, e := range es {
		by, byName := actor, actorName
		if e.actor != nil {
			by, byName = &e.actor.ID, e.actor.Name
		}
		create := c.DirectoryLogEntry.Create().
			SetAt(s.now()).
			SetAction(e.action).
			SetNillableActorID(by).
			SetActorName(byName).
			SetDetail(e.detail)
		if e.user != nil {
			create.SetUserID(e.user.ID).SetUserName(e.user.Name)
		}
		if e.group != nil {
			create.SetGroupID(e.group.ID).SetGroupName(e.group.Name)
		}
		if err := create.Exec(sctx); err != nil {
			return fmt.Errorf("recording directory change: %w", err)
		}
	}
	return nil
}
