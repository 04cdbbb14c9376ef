// Package model holds the GraphQL-only types: generated ones in
// models_gen.go, and the few bound by hand here because an ent type of the
// same name exists.
package model

import "github.com/whisper-health/whisper/ent/channel"

// ChannelFilter narrows the viewer's channel list.
type ChannelFilter struct {
	Kinds         []channel.Kind `json:"kinds,omitempty"`
	Search        *string        `json:"search,omitempty"`
	IncludeHidden *bool          `json:"includeHidden,omitempty"`
	UnreadOnly    *bool          `json:"unreadOnly,omitempty"`
}
