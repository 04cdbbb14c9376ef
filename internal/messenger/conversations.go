package messenger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/whisper-health/whisper/internal/rule"
	"slices"
	"strings"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/securitygroup"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Channel change types carried by ChannelChanged events and channelUpdated.
const (
	Created        = "CREATED"
	Renamed        = "RENAMED"
	MembersChanged = "MEMBERS_CHANGED"
	Removed        = "REMOVED"
)

// OpenInput is what the "new conversation" picker chose.
type OpenInput struct {
	UserIDs          []pulid.ID
	SecurityGroupIDs []pulid.ID
	ChannelIDs       []pulid.ID
	Name             *string
}

// Open opens a conversation: one user gives the pair's individual channel
// (created once, reused forever), one security group its group channel, one
// existing conversation itself, and several picks a custom group (an
// identical existing one is reused).
func (s *Service) Open(ctx context.Context, in OpenInput) (*ent.Channel, error) {
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	users := slices.DeleteFunc(pulid.Dedupe(in.UserIDs), func(id pulid.ID) bool { return id == v.UserID })
	groups, chans := pulid.Dedupe(in.SecurityGroupIDs), pulid.Dedupe(in.ChannelIDs)
	switch n := len(users) + len(groups) + len(chans); {
	case n == 0:
		return nil, apperr.Invalid("userIDs", "pick at least one other user, security group or conversation")
	case n == 1 && len(users) == 1:
		return s.individual(ctx, v, users[0])
	case n == 1 && len(groups) == 1:
		return s.group(ctx, v, groups[0])
	case n == 1 && len(chans) == 1:
		return s.client.Channel.Get(ctx, chans[0])
	}
	return s.customGroup(ctx, v, users, groups, chans, in.Name)
}

// participant loads a user who is to take part, refusing anyone who cannot
// use messaging.
func participant(ctx context.Context, c *ent.Client, id pulid.ID) (*ent.User, error) {
	u, err := c.User.Query().Where(user.ID(id)).WithSecurityGroups().Only(ctx)
	if err != nil {
		return nil, err
	}
	if !canMessage(u) {
		return nil, apperr.New(apperr.Forbidden, "%s does not use messaging", u.Name)
	}
	return u, nil
}

// canMessage reports whether u (with security groups loaded) may take part.
func canMessage(u *ent.User) bool {
	if u.Kind != user.KindSTAFF || !u.Active {
		return false
	}
	if slices.Contains(u.Permissions, string(viewer.AccessWhisper)) {
		return true
	}
	for _, g := range u.Edges.SecurityGroups {
		if slices.Contains(g.Permissions, string(viewer.AccessWhisper)) {
			return true
		}
	}
	return false
}

// individual returns the one channel of a pair, creating it the first time.
func (s *Service) individual(ctx context.Context, v *viewer.Viewer, otherID pulid.ID) (*ent.Channel, error) {
	other, err := participant(ctx, s.client, otherID)
	if err != nil {
		return nil, err
	}
	if other.NeverReceiveDirect {
		return nil, apperr.New(apperr.Forbidden, "%s does not receive direct messages", other.Name)
	}
	pair := []string{string(v.UserID), string(other.ID)}
	slices.Sort(pair)
	key := "individual:" + strings.Join(pair, ":")
	find := func() (*ent.Channel, error) {
		return s.client.Channel.Query().Where(channel.UniqueKey(key)).Only(ctx)
	}
	if ch, err := find(); !ent.IsNotFound(err) {
		return ch, err
	}
	var ch *ent.Channel
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit func(...pubsub.Event)) error {
		c := tx.Client()
		var err error
		ch, err = c.Channel.Create().SetKind(channel.KindINDIVIDUAL).SetUniqueKey(key).Save(ctx)
		if err != nil {
			return err
		}
		if err := addMembers(ctx, c, ch.ID, []pulid.ID{v.UserID, other.ID}); err != nil {
			return err
		}
		emit(changed(ch.ID, Created, []pulid.ID{v.UserID, other.ID}, nil))
		return nil
	})
	if isUnique(err) {
		return find() // opened concurrently by the other side
	}
	if err != nil {
		return nil, err
	}
	return ch.Unwrap(), nil
}

// group returns a security group's channel for a member of the group; for
// anyone else it opens a custom group of the viewer and that group, so the
// viewer can read the answers.
func (s *Service) group(ctx context.Context, v *viewer.Viewer, groupID pulid.ID) (*ent.Channel, error) {
	g, err := s.client.SecurityGroup.Get(ctx, groupID)
	if err != nil {
		return nil, err
	}
	in, err := g.QueryMembers().Where(user.ID(v.UserID)).Exist(ctx)
	if err != nil {
		return nil, err
	}
	if !in {
		return s.customGroup(ctx, v, nil, []pulid.ID{g.ID}, nil, nil)
	}
	if _, err := s.EnsureGroupChannel(ctx, g.ID); err != nil {
		return nil, err
	}
	return s.client.Channel.Query().Where(channel.UniqueKey(groupKey(g.ID))).Only(ctx)
}

func groupKey(id pulid.ID) string { return "group:" + string(id) }

// EnsureGroupChannel returns the channel of a security group, creating it
// if needed, with its membership brought in step with the group. It runs as
// the messenger worker: group channels belong to no one user.
func (s *Service) EnsureGroupChannel(ctx context.Context, groupID pulid.ID) (*ent.Channel, error) {
	var ch *ent.Channel
	err := s.tx.Run(system(ctx, "create a security group's channel"), func(tx *ent.Tx, emit func(...pubsub.Event)) error {
		var err error
		ch, err = s.ensureGroupChannelTx(ctx, tx.Client(), groupID, emit)
		return err
	})
	if isUnique(err) {
		return s.client.Channel.Query().Where(channel.UniqueKey(groupKey(groupID))).Only(system(ctx, "create a security group's channel"))
	}
	if err != nil {
		return nil, err
	}
	return ch.Unwrap(), nil
}

func (s *Service) ensureGroupChannelTx(ctx context.Context, c *ent.Client, groupID pulid.ID, emit func(...pubsub.Event)) (*ent.Channel, error) {
	sctx := system(ctx, "create a security group's channel")
	g, err := c.SecurityGroup.Get(sctx, groupID)
	if err != nil {
		return nil, err
	}
	ch, err := c.Channel.Query().Where(channel.UniqueKey(groupKey(g.ID))).Only(sctx)
	if ent.IsNotFound(err) {
		ch, err = c.Channel.Create().
			SetKind(channel.KindGROUP).
			SetName(g.Name).
			SetSecurityGroupID(g.ID).
			SetUniqueKey(groupKey(g.ID)).
			Save(sctx)
	}
	if err != nil {
		return nil, err
	}
	_, err = s.resync(sctx, c, ch, emit, map[pulid.ID]bool{})
	return ch, err
}

// alertKey identifies the practice's one alert channel.
const alertKey = "alert"

// EnsureAlertChannel returns the practice's alert channel, whose members are
// everyone with ACCESS_WHISPER, creating it on first use.
func (s *Service) EnsureAlertChannel(ctx context.Context) (*ent.Channel, error) {
	sctx := system(ctx, "create the practice-wide alert channel")
	var ch *ent.Channel
	err := s.tx.Run(sctx, func(tx *ent.Tx, emit func(...pubsub.Event)) error {
		c := tx.Client()
		var err error
		ch, err = c.Channel.Query().Where(channel.UniqueKey(alertKey)).Only(sctx)
		if ent.IsNotFound(err) {
			ch, err = c.Channel.Create().SetKind(channel.KindALERT).SetName("Alerts").SetUniqueKey(alertKey).Save(sctx)
		}
		if err != nil {
			return err
		}
		_, err = s.resync(sctx, c, ch, emit, map[pulid.ID]bool{})
		return err
	})
	if isUnique(err) {
		return s.client.Channel.Query().Where(channel.UniqueKey(alertKey)).Only(sctx)
	}
	if err != nil {
		return nil, err
	}
	return ch.Unwrap(), nil
}

// SyncSecurityGroup brings every channel that depends on a security group —
// its group channel and the custom groups that include it — in step with the
// group's members. Call it in the transaction that changed the group.
func (s *Service) SyncSecurityGroup(ctx context.Context, c *ent.Client, groupID pulid.ID, emit func(...pubsub.Event)) error {
	sctx := system(ctx, "bring a group channel's members in step with its security group")
	chans, err := c.Channel.Query().
		Where(channel.Or(
			channel.UniqueKey(groupKey(groupID)),
			channel.HasCustomGroupsWith(securitygroup.ID(groupID)),
			channel.UniqueKey(alertKey), // permissions come with groups
		)).
		All(sctx)
	if err != nil {
		return err
	}
	visited := map[pulid.ID]bool{}
	for _, ch := range chans {
		if _, err := s.resync(sctx, c, ch, emit, visited); err != nil {
			return err
		}
	}
	return nil
}

// customKey identifies a custom group by what it is made of, so that picking
// the same people and groups again reopens it.
func customKey(users, groups, chans []pulid.ID) string {
	var parts []string
	for _, id := range users {
		parts = append(parts, "u"+string(id))
	}
	for _, id := range groups {
		parts = append(parts, "g"+string(id))
	}
	for _, id := range chans {
		parts = append(parts, "c"+string(id))
	}
	slices.Sort(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, ",")))
	return "custom:" + hex.EncodeToString(sum[:20])
}

// customGroup opens (or reuses) the custom group of the viewer and picks.
func (s *Service) customGroup(ctx context.Context, v *viewer.Viewer, users, groups, chans []pulid.ID, name *string) (*ent.Channel, error) {
	var names []string
	for _, id := range users {
		u, err := participant(ctx, s.client, id)
		if err != nil {
			return nil, err
		}
		names = append(names, firstName(u.Name))
	}
	for _, id := range groups {
		g, err := s.client.SecurityGroup.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		names = append(names, g.Name)
	}
	for _, id := range chans {
		ch, err := s.client.Channel.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if ch.Name != "" {
			names = append(names, ch.Name)
		}
	}
	title, err := groupName(name, names)
	if err != nil {
		return nil, err
	}
	sources := append([]pulid.ID{v.UserID}, users...)
	key := customKey(sources, groups, chans)
	find := func() (*ent.Channel, error) {
		return s.client.Channel.Query().Where(channel.UniqueKey(key)).Only(ctx)
	}
	if ch, err := find(); !ent.IsNotFound(err) {
		return ch, err
	}
	var ch *ent.Channel
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit func(...pubsub.Event)) error {
		c := tx.Client()
		taken, err := c.Channel.Query().Where(channel.UniqueKey(key)).Exist(system(ctx, "find an identical custom group to reuse"))
		if err != nil {
			return err
		}
		create := c.Channel.Create().SetKind(channel.KindCUSTOM_GROUP).SetName(title)
		if !taken {
			// An identical group the viewer has since left keeps the key.
			create.SetUniqueKey(key)
		}
		if ch, err = create.Save(ctx); err != nil {
			return err
		}
		if err := addMembers(ctx, c, ch.ID, []pulid.ID{v.UserID}); err != nil {
			return err
		}
		if ch, err = c.Channel.UpdateOne(ch).
			AddCustomUserIDs(sources...).
			AddCustomGroupIDs(groups...).
			AddCustomChannelIDs(chans...).
			Save(ctx); err != nil {
			return err
		}
		_, err = s.resyncAs(ctx, c, ch, emit, map[pulid.ID]bool{}, Created)
		return err
	})
	if isUnique(err) {
		return find()
	}
	if err != nil {
		return nil, err
	}
	return ch.Unwrap(), nil
}

// UpdateInput changes a custom group.
type UpdateInput struct {
	ChannelID                                   pulid.ID
	Name                                        *string
	AddUserIDs, RemoveUserIDs                   []pulid.ID
	AddSecurityGroupIDs, RemoveSecurityGroupIDs []pulid.ID
	AddChannelIDs, RemoveChannelIDs             []pulid.ID
}

// UpdateCustomGroup renames a custom group and changes what it is made of.
// Added members see the whole history; removed members lose it at once.
// The change is recorded as a system message in the channel.
func (s *Service) UpdateCustomGroup(ctx context.Context, in UpdateInput) (*ent.Channel, error) {
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	var ch *ent.Channel
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit func(...pubsub.Event)) error {
		c := tx.Client()
		ch, err = s.lockChannel(ctx, c, in.ChannelID)
		if err != nil {
			return err
		}
		if ch.Kind != channel.KindCUSTOM_GROUP {
			return apperr.Invalid("channelID", "only custom groups can be renamed or have members changed")
		}
		me, err := c.User.Get(ctx, v.UserID)
		if err != nil {
			return err
		}
		var notes []string
		renamed := false
		upd := c.Channel.UpdateOne(ch)
		if in.Name != nil {
			title, err := groupName(in.Name, nil)
			if err != nil {
				return err
			}
			if title != ch.Name {
				upd.SetName(title)
				notes = append(notes, fmt.Sprintf("renamed the group to %q", title))
				renamed = true
			}
		}
		for _, id := range in.AddUserIDs {
			if _, err := participant(ctx, c, id); err != nil {
				return err
			}
		}
		for _, id := range in.AddSecurityGroupIDs {
			g, err := c.SecurityGroup.Get(ctx, id)
			if err != nil {
				return err
			}
			notes = append(notes, "added the "+g.Name+" group")
		}
		for _, id := range in.RemoveSecurityGroupIDs {
			if g, err := c.SecurityGroup.Get(ctx, id); err == nil {
				notes = append(notes, "removed the "+g.Name+" group")
			}
		}
		for _, id := range in.AddChannelIDs {
			if id == ch.ID {
				return apperr.Invalid("addChannelIDs", "a group cannot include itself")
			}
			other, err := c.Channel.Get(ctx, id)
			if err != nil {
				return err
			}
			notes = append(notes, "added the members of "+orDefault(other.Name, "a conversation"))
		}
		if len(in.RemoveChannelIDs) > 0 {
			notes = append(notes, "removed included conversations")
		}
		ch, err = upd.
			AddCustomUserIDs(in.AddUserIDs...).RemoveCustomUserIDs(in.RemoveUserIDs...).
			AddCustomGroupIDs(in.AddSecurityGroupIDs...).RemoveCustomGroupIDs(in.RemoveSecurityGroupIDs...).
			AddCustomChannelIDs(in.AddChannelIDs...).RemoveCustomChannelIDs(in.RemoveChannelIDs...).
			Save(ctx)
		if err != nil {
			return err
		}
		// Who actually joins or leaves, whatever was asked: someone added
		// who was in already through a group, or removed who stays through
		// one, is not announced.
		add, remove, _, err := s.plan(ctx, c, ch)
		if err != nil {
			return err
		}
		people, err := membershipNotes(ctx, c, add, remove)
		if err != nil {
			return err
		}
		if renamed {
			notes = slices.Concat(notes[:1], people, notes[1:])
		} else {
			notes = append(people, notes...)
		}
		if len(notes) > 0 {
			notice := me.Name + " " + strings.Join(notes, ", ")
			if _, err := s.post(ctx, c, ch, c.Message.Create().SetKind(message.KindSYSTEM).SetBody(notice), emit); err != nil {
				return err
			}
		}
		visited := map[pulid.ID]bool{}
		if _, err := s.resync(context.WithValue(ctx, announcedKey{}, ch.ID), c, ch, emit, visited); err != nil {
			return err
		}
		if renamed {
			members, err := c.ChannelMember.Query().Where(channelmember.ChannelID(ch.ID)).All(system(ctx, "read the members of a custom group being changed"))
			if err != nil {
				return err
			}
			var users []pulid.ID
			for _, m := range members {
				users = append(users, m.UserID)
			}
			emit(changed(ch.ID, Renamed, users, nil))
		}
		return s.rekey(ctx, c, ch)
	})
	if err != nil {
		return nil, err
	}
	fresh, err := s.client.Channel.Get(ctx, ch.ID)
	if ent.IsNotFound(err) {
		// The viewer removed themself: the change stands, and they are told
		// what the channel was; from now on it is gone for them.
		return ch.Unwrap(), nil
	}
	return fresh, err
}

// rekey keeps a custom group's identity key in step with its make-up; if an
// identical group already exists, this one simply has none.
func (s *Service) rekey(ctx context.Context, c *ent.Client, ch *ent.Channel) error {
	sctx := system(ctx, "check a custom group's new make-up is not taken")
	users, err := ch.QueryCustomUsers().IDs(sctx)
	if err != nil {
		return err
	}
	groups, err := ch.QueryCustomGroups().IDs(sctx)
	if err != nil {
		return err
	}
	chans, err := ch.QueryCustomChannels().IDs(sctx)
	if err != nil {
		return err
	}
	key := customKey(users, groups, chans)
	taken, err := c.Channel.Query().Where(channel.UniqueKey(key), channel.IDNEQ(ch.ID)).Exist(sctx)
	if err != nil {
		return err
	}
	upd := c.Channel.UpdateOneID(ch.ID)
	if taken {
		upd.ClearUniqueKey()
	} else {
		upd.SetUniqueKey(key)
	}
	return upd.Exec(sctx)
}

// resync makes a channel's members what its definition says, and then does
// the same for every custom group that includes this channel. visited
// tolerates cycles (a group that includes a group that includes it).
func (s *Service) resync(ctx context.Context, c *ent.Client, ch *ent.Channel, emit func(...pubsub.Event), visited map[pulid.ID]bool) (changedAny bool, err error) {
	return s.resyncAs(ctx, c, ch, emit, visited, MembersChanged)
}

// resyncAs is resync, reporting the change as change (Created for a channel
// being set up).
func (s *Service) resyncAs(ctx context.Context, c *ent.Client, ch *ent.Channel, emit func(...pubsub.Event), visited map[pulid.ID]bool, change string) (changedAny bool, err error) {
	if visited[ch.ID] {
		return false, nil
	}
	visited[ch.ID] = true
	sctx := system(ctx, "add and remove the members a custom group's make-up implies")
	add, remove, have, err := s.plan(ctx, c, ch)
	if err != nil {
		return false, err
	}
	if len(add) == 0 && len(remove) == 0 {
		return false, nil
	}
	all := slices.Clone(add)
	for _, m := range have {
		if !slices.Contains(remove, m.UserID) {
			all = append(all, m.UserID)
		}
	}
	// A group that follows others (its security group, included
	// conversations) says in the channel who joined or left; the one the
	// caller changed directly has said so already.
	announced, _ := ctx.Value(announcedKey{}).(pulid.ID)
	if change == MembersChanged && len(have) > 0 && announced != ch.ID && (ch.Kind == channel.KindGROUP || ch.Kind == channel.KindCUSTOM_GROUP) {
		locked, err := s.lockChannel(sctx, c, ch.ID)
		if err != nil {
			return false, err
		}
		notes, err := membershipNotes(ctx, c, add, remove)
		if err != nil {
			return false, err
		}
		notice := "Membership changed: " + strings.Join(notes, ", ")
		if v := viewer.FromContext(ctx); rule.Account.Holds(v) {
			if me, err := c.User.Get(sctx, v.UserID); err == nil {
				notice = me.Name + " changed the members: " + strings.Join(notes, ", ")
			}
		}
		if _, err := s.post(sctx, c, locked, c.Message.Create().SetKind(message.KindSYSTEM).SetBody(notice), emit); err != nil {
			return false, err
		}
		ch = locked
	}
	// New members start with nothing unread: they see the history, but it
	// is not news to them.
	if err := addMembersAt(sctx, c, ch.ID, add, ch.LastSeq); err != nil {
		return false, err
	}
	if len(remove) > 0 {
		if _, err := c.ChannelMember.Delete().
			Where(channelmember.ChannelID(ch.ID), channelmember.UserIDIn(remove...)).
			Exec(sctx); err != nil {
			return false, err
		}
	}
	if len(have) == 0 {
		change = Created
	}
	emit(changed(ch.ID, change, all, remove))
	// Custom groups that include this channel follow it.
	dependents, err := c.Channel.Query().Where(channel.HasCustomChannelsWith(channel.ID(ch.ID))).All(sctx)
	if err != nil {
		return false, err
	}
	for _, d := range dependents {
		if _, err := s.resync(ctx, c, d, emit, visited); err != nil {
			return false, err
		}
	}
	return true, nil
}

// announcedKey marks, in a context, the channel whose membership notice the
// caller has posted itself.
type announcedKey struct{}

// plan compares who should be a member of ch with who is: the users to add
// and to remove, and the current memberships.
func (s *Service) plan(ctx context.Context, c *ent.Client, ch *ent.Channel) (add, remove []pulid.ID, have []*ent.ChannelMember, err error) {
	sctx := system(ctx, "expand a custom group's groups and included channels")
	want, err := s.expand(sctx, c, ch, map[pulid.ID]bool{})
	if err != nil {
		return nil, nil, nil, err
	}
	have, err = c.ChannelMember.Query().Where(channelmember.ChannelID(ch.ID)).All(sctx)
	if err != nil {
		return nil, nil, nil, err
	}
	current := map[pulid.ID]bool{}
	for _, m := range have {
		current[m.UserID] = true
		if !want[m.UserID] {
			remove = append(remove, m.UserID)
		}
	}
	for id := range want {
		if !current[id] {
			add = append(add, id)
		}
	}
	slices.Sort(add)
	slices.Sort(remove)
	return add, remove, have, nil
}

// membershipNotes names who joins and who leaves: "added A, B",
// "removed C".
func membershipNotes(ctx context.Context, c *ent.Client, add, remove []pulid.ID) ([]string, error) {
	var notes []string
	for _, part := range []struct {
		verb string
		ids  []pulid.ID
	}{{"added", add}, {"removed", remove}} {
		if len(part.ids) == 0 {
			continue
		}
		users, err := c.User.Query().Where(user.IDIn(part.ids...)).All(system(ctx, "name the users who joined or left in the membership notice"))
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(users))
		for _, u := range users {
			names = append(names, u.Name)
		}
		slices.Sort(names)
		notes = append(notes, part.verb+" "+strings.Join(names, ", "))
	}
	return notes, nil
}

// expand lists who should be a member of ch: for a group channel, the
// security group's members; for a custom group, its users, the members of
// its security groups and of its included conversations, transitively; for
// any other channel, its current members. Only people who may use messaging
// are kept.
func (s *Service) expand(ctx context.Context, c *ent.Client, ch *ent.Channel, seen map[pulid.ID]bool) (map[pulid.ID]bool, error) {
	out := map[pulid.ID]bool{}
	if seen[ch.ID] {
		return out, nil
	}
	seen[ch.ID] = true
	var ids []pulid.ID
	switch ch.Kind {
	case channel.KindALERT:
		us, err := c.User.Query().Where(user.KindEQ(user.KindSTAFF), user.Active(true)).IDs(ctx)
		if err != nil {
			return nil, err
		}
		ids = us
	case channel.KindGROUP:
		if ch.SecurityGroupID == nil {
			return out, nil
		}
		us, err := c.User.Query().Where(user.HasSecurityGroupsWith(securitygroup.ID(*ch.SecurityGroupID))).IDs(ctx)
		if err != nil {
			return nil, err
		}
		ids = us
	case channel.KindCUSTOM_GROUP:
		direct, err := c.Channel.QueryCustomUsers(ch).IDs(ctx)
		if err != nil {
			return nil, err
		}
		groups, err := c.Channel.QueryCustomGroups(ch).IDs(ctx)
		if err != nil {
			return nil, err
		}
		viaGroups, err := c.User.Query().
			Where(user.HasSecurityGroupsWith(securitygroup.IDIn(groups...))).
			IDs(ctx)
		if err != nil {
			return nil, err
		}
		ids = append(direct, viaGroups...)
		included, err := c.Channel.QueryCustomChannels(ch).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, inc := range included {
			sub, err := s.expand(ctx, c, inc, seen)
			if err != nil {
				return nil, err
			}
			for id := range sub {
				ids = append(ids, id)
			}
		}
	default:
		ms, err := c.ChannelMember.Query().Where(channelmember.ChannelID(ch.ID)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			ids = append(ids, m.UserID)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	users, err := c.User.Query().Where(user.IDIn(pulid.Dedupe(ids)...)).WithSecurityGroups().All(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if canMessage(u) {
			out[u.ID] = true
		}
	}
	return out, nil
}

func addMembers(ctx context.Context, c *ent.Client, ch pulid.ID, users []pulid.ID) error {
	return addMembersAt(ctx, c, ch, users, 0)
}

func addMembersAt(ctx context.Context, c *ent.Client, ch pulid.ID, users []pulid.ID, readSeq int64) error {
	for _, u := range users {
		if err := c.ChannelMember.Create().
			SetChannelID(ch).
			SetUserID(u).
			SetLastReadSeq(readSeq).
			Exec(ctx); err != nil {
			return fmt.Errorf("adding member: %w", err)
		}
	}
	return nil
}

func changed(ch pulid.ID, kind string, users, removed []pulid.ID) pubsub.Event {
	return pubsub.Event{Kind: pubsub.ChannelChanged, Channel: ch, Change: kind, Users: users, Removed: removed}
}

func groupName(name *string, parts []string) (string, error) {
	if name != nil {
		n := strings.TrimSpace(*name)
		if n == "" || len([]rune(n)) > 200 {
			return "", apperr.Invalid("name", "a group name is 1 to 200 characters")
		}
		return n, nil
	}
	if len(parts) > 4 {
		parts = append(parts[:3], fmt.Sprintf("+%d", len(parts)-3))
	}
	return strings.Join(parts, ", "), nil
}

func firstName(name string) string {
	f := strings.Fields(name)
	if len(f) >= 2 && (f[0] == "Dr" || f[0] == "Dr.") {
		return f[0] + " " + f[len(f)-1]
	}
	if len(f) > 0 {
		return f[0]
	}
	return name
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
