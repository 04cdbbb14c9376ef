package live

import (
	"context"
	"github.com/whisper-health/whisper/internal/rule"
	"slices"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/notification"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// noteSub is one notificationAdded subscription.
type noteSub struct {
	*feed[*ent.Notification]
	ctx    context.Context
	viewer *viewer.Viewer
	kinds  []notification.Kind
}

// Notifications streams the viewer's new notifications of some kinds (all
// when kinds is empty).
func (h *Hub) Notifications(ctx context.Context, kinds []notification.Kind) (<-chan *ent.Notification, error) {
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	s := &noteSub{feed: newFeed[*ent.Notification](ctx, h.cfg.Buffer), ctx: ctx, viewer: v, kinds: kinds}
	s.registered(h.notes.add(&h.mu, v.UserID, s, ctx))
	reportReady(ctx)
	return s.out, nil
}

// notified hands a new notification to its recipient's streams — read as
// the recipient, so the privacy rules decide — unless they keep the
// messenger hidden, or never receive (except arrivals); and refreshes their
// badges.
func (h *Hub) notified(ctx context.Context, ev pubsub.Event) {
	for _, u := range ev.Users {
		subs := h.notes.of(&h.mu, u)
		if ev.Message != "" && len(subs) > 0 {
			h.deliverNote(subs, ev.Message)
		}
		h.reloadBadges(ctx, u)
	}
}

func (h *Hub) deliverNote(subs []*noteSub, id pulid.ID) {
	for _, s := range subs {
		n, err := h.client.Notification.Get(s.ctx, id)
		if err != nil {
			continue // not theirs, or gone
		}
		if len(s.kinds) > 0 && !slices.Contains(s.kinds, n.Kind) {
			continue
		}
		me, err := h.client.User.Get(s.ctx, s.viewer.UserID)
		if err != nil || me.KeepHidden {
			continue
		}
		// "Never receive" suppresses message-style notifications; arrivals
		// have their own switch (patient-arrived alerts) and still come.
		if me.NeverReceiveDirect && n.Kind != notification.KindARRIVAL {
			continue
		}
		s.send(n)
	}
}
