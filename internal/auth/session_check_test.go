package auth_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// TestAuthenticateChecksSessionUserAndGroups: a token is accepted with the
// union of the user's own and their security groups' permissions (also
// with no group at all), and refused once its session is revoked (with the
// revocation's reason) or its user deactivated — each check read afresh by
// a replica that has not seen the session before (one statement since the
// reconnect-storm work; the refusals are those of the three reads before it).
func TestAuthenticateChecksSessionUserAndGroups(t *testing.T) {
	db := testdb.Open(t)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test")
	hash, err := auth.HashPassword("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	g1 := db.Client.SecurityGroup.Create().SetName("Nurses").SetPermissions([]string{string(viewer.AccessWhisper), "A"}).SaveX(sctx)
	g2 := db.Client.SecurityGroup.Create().SetName("Admins").SetPermissions([]string{string(viewer.WhisperAdmin), "A"}).SaveX(sctx)
	g3 := db.Client.SecurityGroup.Create().SetName("Empty").SaveX(sctx)
	grouped := db.Client.User.Create().SetName("Grouped").SetEmail("grouped@example.test").SetPasswordHash(hash).
		SetPermissions([]string{string(viewer.DirectoryManage)}).AddSecurityGroups(g1, g2, g3).SaveX(sctx)
	alone := db.Client.User.Create().SetName("Alone").SetEmail("alone@example.test").SetPasswordHash(hash).SaveX(sctx)

	cfg := auth.Config{Secret: bytes.Repeat([]byte("s"), 32), Dialect: db.Dialect}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// fresh is a replica that has checked no session yet.
	fresh := func() *auth.Service {
		s, err := auth.New(db.Client, cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	login := func(u *ent.User) string {
		tok, err := fresh().Login(ctx, u.Email, "a long enough password", auth.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	perms := func(v *viewer.Viewer) []string {
		var out []string
		for p := range maps.Keys(v.Perms) {
			out = append(out, string(p))
		}
		slices.Sort(out)
		return out
	}

	groupedTok, aloneTok := login(grouped), login(alone)
	v, _, err := fresh().Authenticate(ctx, groupedTok)
	if err != nil {
		t.Fatalf("a good token: %v", err)
	}
	want := []string{"A", string(viewer.AccessWhisper), string(viewer.DirectoryManage), string(viewer.WhisperAdmin)}
	slices.Sort(want)
	if got := perms(v); !slices.Equal(got, want) {
		t.Errorf("permissions %v, want %v", got, want)
	}
	if v.UserID != grouped.ID || v.SessionID == "" || v.Kind != viewer.Staff {
		t.Errorf("viewer %+v, want staff user %s with the session", v, grouped.ID)
	}
	v, _, err = fresh().Authenticate(ctx, aloneTok)
	if err != nil {
		t.Fatalf("a good token of a user in no group: %v", err)
	}
	if got := perms(v); len(got) != 0 || v.UserID != alone.ID {
		t.Errorf("user in no group: %s with %v, want %s with no permissions", v.UserID, got, alone.ID)
	}

	// Deactivated (its sessions not yet revoked): refused.
	db.Client.User.UpdateOne(grouped).SetActive(false).ExecX(sctx)
	if _, _, err := fresh().Authenticate(ctx, groupedTok); !errors.Is(err, auth.ErrUserDeactivated) {
		t.Errorf("deactivated user: %v, want %v", err, auth.ErrUserDeactivated)
	}
	db.Client.User.UpdateOne(grouped).SetActive(true).ExecX(sctx)
	if _, _, err := fresh().Authenticate(ctx, groupedTok); err != nil {
		t.Errorf("reactivated user: %v", err)
	}

	// Revoked: refused with the revocation's reason.
	sess := db.Client.Session.Query().Where().AllX(sctx)
	for _, tc := range []struct {
		reason string
		want   error
	}{
		{auth.ReasonRevokedByAdministrator, auth.ErrSessionRevoked},
		{auth.ReasonUserDeactivated, auth.ErrUserDeactivated},
	} {
		for _, s := range sess {
			if s.UserID == grouped.ID {
				db.Client.Session.UpdateOne(s).SetRevokedAt(time.Now()).SetRevokedReason(tc.reason).ExecX(sctx)
			}
		}
		if _, _, err := fresh().Authenticate(ctx, groupedTok); !errors.Is(err, tc.want) {
			t.Errorf("session revoked (%s): %v, want %v", tc.reason, err, tc.want)
		}
	}

	// A session that no longer exists: an invalid token.
	for _, s := range sess {
		if s.UserID == alone.ID {
			db.Client.Session.DeleteOne(s).ExecX(sctx)
		}
	}
	if _, _, err := fresh().Authenticate(ctx, aloneTok); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("deleted session: %v, want %v", err, auth.ErrInvalidToken)
	}
}

// TestVerifiedTokensStillExpire: a token that was accepted (and is not
// checked again while it is valid) is refused as TOKEN_EXPIRED once its
// lifetime has passed, and a token differing from it in its signature is
// refused although the accepted one is still valid.
func TestVerifiedTokensStillExpire(t *testing.T) {
	db := testdb.Open(t)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test")
	hash, err := auth.HashPassword("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	u := db.Client.User.Create().SetName("Ada").SetEmail("ada@example.test").SetPasswordHash(hash).
		SetPermissions([]string{string(viewer.AccessWhisper)}).SaveX(sctx)
	now := time.Now()
	clock := func() time.Time { return now }
	s, err := auth.New(db.Client, auth.Config{Secret: bytes.Repeat([]byte("s"), 32), Dialect: db.Dialect, Now: clock},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Login(ctx, u.Email, "a long enough password", auth.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := s.Authenticate(ctx, tok.AccessToken); err != nil {
			t.Fatalf("a fresh token: %v", err)
		}
	}
	// A character in the middle of the signature (the last one carries
	// bits base64 decoding ignores).
	sig := strings.LastIndexByte(tok.AccessToken, '.') + 10
	flip := byte('A')
	if tok.AccessToken[sig] == 'A' {
		flip = 'B'
	}
	forged := tok.AccessToken[:sig] + string(flip) + tok.AccessToken[sig+1:]
	if _, _, err := s.Authenticate(ctx, forged); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("a token with another signature: %v, want ErrInvalidToken", err)
	}
	now = tok.ExpiresAt.Add(time.Second)
	if _, _, err := s.Authenticate(ctx, tok.AccessToken); !errors.Is(err, auth.ErrTokenExpired) {
		t.Fatalf("the accepted token past its lifetime: %v, want ErrTokenExpired", err)
	}
}
