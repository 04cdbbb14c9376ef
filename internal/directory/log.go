package directory

import (
	"context"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/directorylogentry"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
)

// LogFilter narrows the directory log.
type LogFilter struct {
	// UserID keeps the changes made to one user.
	UserID *pulid.ID
	// ActorID keeps the changes one user or service account made.
	ActorID *pulid.ID
}

// Log returns the directory log (DIRECTORY_MANAGE), for the caller to
// order and page.
func (s *Service) Log(ctx context.Context, f LogFilter) (*ent.DirectoryLogEntryQuery, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	q := s.client.DirectoryLogEntry.Query()
	if f.UserID != nil {
		q.Where(directorylogentry.UserID(*f.UserID))
	}
	if f.ActorID != nil {
		q.Where(directorylogentry.ActorID(*f.ActorID))
	}
	return q, nil
}
