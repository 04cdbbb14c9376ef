package messenger

import (
	"context"
	"github.com/whisper-health/whisper/internal/rule"
	"strings"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/label"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
)

// Labels are each user's own filing system: a message can carry any of the
// viewer's labels without moving, and nobody else sees them (the Label
// policy only ever finds the viewer's own).

// CreateLabel makes a label for the viewer.
func (s *Service) CreateLabel(ctx context.Context, name string) (*ent.Label, error) {
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	name, err = labelName(name)
	if err != nil {
		return nil, err
	}
	l, err := s.client.Label.Create().SetOwnerID(v.UserID).SetName(name).Save(ctx)
	if isUnique(err) {
		return nil, apperr.New(apperr.Conflict, "you already have a label named %q", name)
	}
	return l, err
}

// RenameLabel renames one of the viewer's labels.
func (s *Service) RenameLabel(ctx context.Context, id pulid.ID, name string) (*ent.Label, error) {
	if _, err := rule.Messaging.Check(ctx); err != nil {
		return nil, err
	}
	name, err := labelName(name)
	if err != nil {
		return nil, err
	}
	l, err := s.client.Label.UpdateOneID(id).SetName(name).Save(ctx)
	if isUnique(err) {
		return nil, apperr.New(apperr.Conflict, "you already have a label named %q", name)
	}
	return l, err
}

// DeleteLabel deletes one of the viewer's labels; its messages stay.
func (s *Service) DeleteLabel(ctx context.Context, id pulid.ID) error {
	if _, err := rule.Messaging.Check(ctx); err != nil {
		return err
	}
	n, err := s.client.Label.Delete().Where(label.ID(id)).Exec(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return &ent.NotFoundError{}
	}
	return nil
}

// LabelMessage puts one of the viewer's labels on a message they can see.
func (s *Service) LabelMessage(ctx context.Context, messageID, labelID pulid.ID, on bool) (*ent.Message, error) {
	if _, err := rule.Messaging.Check(ctx); err != nil {
		return nil, err
	}
	m, err := s.client.Message.Get(ctx, messageID)
	if err != nil {
		return nil, err
	}
	upd := s.client.Label.UpdateOneID(labelID)
	if on {
		upd.AddMessageIDs(m.ID)
	} else {
		upd.RemoveMessageIDs(m.ID)
	}
	if err := upd.Exec(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

func labelName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 100 {
		return "", apperr.Invalid("name", "a label name is 1 to 100 characters")
	}
	return name, nil
}
