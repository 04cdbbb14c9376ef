package graph

import (
	"context"
	"errors"

	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/pulid"
)

// Why a socket whose session was told to close ends, beyond a plain
// revocation: the directory deactivated the user (sign-in is refused; say
// so), or changed their permissions without revoking anything (reconnect
// with the same token: the new permissions apply).
var (
	errUserDeactivated    = errors.New("account deactivated: contact the practice's administrator")
	errPermissionsChanged = errors.New("permissions changed: reconnect")
)

// revokedCause reads why a session's sockets were told to close.
func (h *Handler) revokedCause(ctx context.Context, id pulid.ID) error {
	reason, revoked, err := h.auth.SessionEnd(ctx, id)
	switch {
	case err != nil:
		return errSessionRevoked
	case !revoked:
		return errPermissionsChanged
	case reason == auth.ReasonUserDeactivated:
		return errUserDeactivated
	}
	return errSessionRevoked
}
