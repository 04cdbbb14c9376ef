// Package whisper is the root of the Whisper messaging service; the service
// itself is in ./server. This file holds the code generation entry point:
// `go generate ./...` regenerates ent (from ent/schema), then gqlgen (from
// schema.graphql and the ent.graphql that ent writes), then the versioned
// schema migrations (internal/store/migrations: a new file per dialect when
// the ent schema has changed, nothing otherwise).
package whisper

//go:generate go run -mod=mod ./ent/entc.go
//go:generate go tool gqlgen generate --config gqlgen.yml
//go:generate go run ./internal/store/migrations/gen.go
