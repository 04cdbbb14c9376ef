package live

import (
	"context"
	"slices"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/internal/pulid"
)

// memberCache keeps the members of the channels the hub released messages
// of recently, so a release reads a channel's members only when they have
// changed.
//
// Why a kept set is never staler than a re-read. Every change to
// channel_members raises channels.member_version in the same transaction (a
// trigger, see internal/store/members.go). A set is stored with the version
// read before the set was read (a statement before it, or the same one), so
// the set holds at least every change that version counts. A release reads
// each released channel's version again — with the channel's row, in a
// statement after its messages', so after they committed, where the hub
// used to read the members themselves — and uses the kept set only when
// the version is the same: then no membership change committed between
// the set's version and now (any would have raised it), so the set is
// exactly what a re-read would return. Otherwise, or for a
// channel not kept, it reads the members, after that version read. A
// removal that commits before the release's version read is therefore
// always seen, as it was when the members were read there; the membership
// events (ChannelChanged), which are not ordered with releases, are not
// relied on.
type memberCache struct {
	max     int // channels kept
	clock   uint64
	entries map[pulid.ID]*memberEntry
}

type memberEntry struct {
	version int64
	users   map[pulid.ID]bool
	used    uint64
}

func newMemberCache(size int) *memberCache {
	return &memberCache{max: size, entries: map[pulid.ID]*memberEntry{}}
}

// members returns the members of each channel in versions (channel →
// member_version read after the released messages committed), reading only
// the channels whose kept set is missing or of another version. Channels in
// unversioned (their row was not read) are always read and not kept. ctx
// must be a system context.
func (c *memberCache) members(ctx context.Context, client *ent.Client, versions map[pulid.ID]int64, unversioned []pulid.ID) (map[pulid.ID]map[pulid.ID]bool, error) {
	c.clock++
	out := make(map[pulid.ID]map[pulid.ID]bool, len(versions)+len(unversioned))
	read := unversioned
	for id, v := range versions {
		if e := c.entries[id]; e != nil && e.version == v {
			e.used = c.clock
			out[id] = e.users
			continue
		}
		read = append(read, id)
	}
	if len(read) == 0 {
		return out, nil
	}
	// Only the two columns the decision needs.
	rows, err := client.ChannelMember.Query().Where(channelmember.ChannelIDIn(read...)).
		Select(channelmember.FieldChannelID, channelmember.FieldUserID).All(ctx)
	if err != nil {
		return nil, err
	}
	fresh := make(map[pulid.ID]map[pulid.ID]bool, len(read))
	for _, id := range read {
		fresh[id] = map[pulid.ID]bool{}
	}
	for _, m := range rows {
		fresh[m.ChannelID][m.UserID] = true
	}
	for id, users := range fresh {
		out[id] = users
		if v, ok := versions[id]; ok {
			c.entries[id] = &memberEntry{version: v, users: users, used: c.clock}
		}
	}
	c.evict()
	return out, nil
}

// evict drops the least recently used channels beyond max, down to about
// three quarters of it, so eviction runs once per many new channels. The
// channels of the current release are never dropped (they share the
// newest use).
func (c *memberCache) evict() {
	if len(c.entries) <= c.max {
		return
	}
	uses := make([]uint64, 0, len(c.entries))
	for _, e := range c.entries {
		uses = append(uses, e.used)
	}
	slices.Sort(uses)
	cut := uses[len(uses)-max(c.max*3/4, 1)]
	for id, e := range c.entries {
		if e.used < cut {
			delete(c.entries, id)
		}
	}
}
