package directory

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/directorylogentry"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/viewer"
)

// CreateServiceAccount creates an integration service account. It runs as
// the viewer: the User policy requires DIRECTORY_MANAGE.
func (s *Service) CreateServiceAccount(ctx context.Context, name, email string, perms []viewer.Permission) (*ent.User, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	name, email, err := profile(name, email)
	if err != nil {
		return nil, err
	}
	grants := permNames(perms)
	u, err := s.client.User.Create().
		SetKind(user.KindSERVICE).
		SetName(name).
		SetEmail(email).
		SetPermissions(grants).
		Save(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, s.client, entry{action: directorylogentry.ActionSERVICE_ACCOUNT_CREATED, user: u,
		detail: "permissions: " + list(grants)}); err != nil {
		return nil, err
	}
	return u, nil
}

// CreateAPIKey makes a new key for a service account and returns it; only
// its hash is stored. It runs as the viewer: the APIKey policy requires
// DIRECTORY_MANAGE.
func (s *Service) CreateAPIKey(ctx context.Context, serviceAccount pulid.ID, name string) (string, *ent.APIKey, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return "", nil, err
	}
	key, err := NewAPIKey()
	if err != nil {
		return "", nil, err
	}
	k, err := s.StoreAPIKey(ctx, serviceAccount, name, key)
	return key, k, err
}

// StoreAPIKey records a given key for a service account (the demo's key is
// fixed).
func (s *Service) StoreAPIKey(ctx context.Context, serviceAccount pulid.ID, name, key string) (*ent.APIKey, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, apperr.Invalid("name", "name must not be empty")
	}
	u, err := s.client.User.Get(ctx, serviceAccount)
	if err != nil {
		return nil, err
	}
	if u.Kind != user.KindSERVICE {
		return nil, apperr.Invalid("serviceAccountID", "API keys belong to service accounts, not to staff users")
	}
	k, err := s.client.APIKey.Create().
		SetUserID(u.ID).
		SetName(name).
		SetKeyHash(auth.HashAPIKey(key)).
		SetKeyPrefix(key[:min(len(key), 10)]).
		Save(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, s.client, entry{action: directorylogentry.ActionAPI_KEY_CREATED, user: u,
		detail: fmt.Sprintf("key %q (%s…)", k.Name, k.KeyPrefix)}); err != nil {
		return nil, err
	}
	return k, nil
}

// RevokeAPIKey revokes a key (DIRECTORY_MANAGE, by policy).
func (s *Service) RevokeAPIKey(ctx context.Context, id pulid.ID) (*ent.APIKey, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	k, err := s.client.APIKey.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if k.RevokedAt != nil {
		return k, nil
	}
	k, err = s.client.APIKey.UpdateOne(k).SetRevokedAt(s.now()).Save(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.client.User.Get(ctx, k.UserID)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, s.client, entry{action: directorylogentry.ActionAPI_KEY_REVOKED, user: u,
		detail: fmt.Sprintf("key %q (%s…)", k.Name, k.KeyPrefix)}); err != nil {
		return nil, err
	}
	return k, nil
}

// NewAPIKey returns a fresh random API key.
func NewAPIKey() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading randomness: %w", err)
	}
	return auth.APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}
