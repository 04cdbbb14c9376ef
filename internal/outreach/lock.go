package outreach

import (
	entsql "entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent/outboxmessage"
)

// sqlSkipLocked makes a row lock skip rows another engine holds.
func sqlSkipLocked() entsql.LockOption { return entsql.WithLockAction(entsql.SkipLocked) }

func outboxChannel(c string) outboxmessage.Channel { return outboxmessage.Channel(c) }
