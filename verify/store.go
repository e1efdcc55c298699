package verify

import (
	"context"
	"sync"
)

// SecretStore keeps secrets that a provider hands over in a handshake
// rather than the user configuring them (Asana's X-Hook-Secret), one per
// route. Implementations are safe for concurrent use; the gateway's
// durable journal can back one so the secret survives restarts.
type SecretStore interface {
	// Get returns the route's secret, or "" when it has none.
	Get(ctx context.Context, route string) (string, error)
	// SetIfAbsent stores secret for the route unless it already has one,
	// and returns the secret the route has afterwards.
	SetIfAbsent(ctx context.Context, route, secret string) (string, error)
	// Delete forgets the route's secret (before re-registering a webhook).
	Delete(ctx context.Context, route string) error
}

// MemorySecretStore is a SecretStore in memory: a restart forgets it.
type MemorySecretStore struct {
	mu      sync.Mutex
	secrets map[string]string
}

// NewMemorySecretStore returns an empty store.
func NewMemorySecretStore() *MemorySecretStore {
	return &MemorySecretStore{secrets: map[string]string{}}
}

// Get returns the route's secret.
func (m *MemorySecretStore) Get(_ context.Context, route string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.secrets[route], nil
}

// SetIfAbsent stores secret unless the route has one.
func (m *MemorySecretStore) SetIfAbsent(_ context.Context, route, secret string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if have, ok := m.secrets[route]; ok {
		return have, nil
	}
	m.secrets[route] = secret
	return secret, nil
}

// Delete forgets the route's secret.
func (m *MemorySecretStore) Delete(_ context.Context, route string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.secrets, route)
	return nil
}

var _ SecretStore = (*MemorySecretStore)(nil)
