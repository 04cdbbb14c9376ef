package graph_test

import (
	"github.com/whisper-health/whisper/ent/predicate"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/pulid"
)

func userEmail(email string) predicate.User { return user.Email(email) }

func pulidOf(s string) pulid.ID { return pulid.ID(s) }
